"""Settings refuse values the system cannot honour, with the setting named."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.redis_client import SOCKET_TIMEOUT
from shared.settings import Settings


def test_a_replica_wait_is_held_well_under_a_redis_calls_own_timeout() -> None:
    """A WAIT as long as a call's timeout would fail writes that went in."""
    assert Settings(redis_wait_timeout_ms=5_000).redis_wait_timeout_ms * 2 <= SOCKET_TIMEOUT * 1000
    with pytest.raises(ValidationError, match="redis_wait_timeout_ms"):
        Settings(redis_wait_timeout_ms=10_000)
