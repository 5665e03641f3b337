"""The gateway's Redis scripts on a cluster: a script whose reply was lost is not run again
(the cluster client's own call would send it again, though it may have run)."""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as redis
from redis.asyncio.cluster import ClusterNode

from gateway.auth_throttle import AuthThrottle
from gateway.stream_slots import StreamSlots
from shared.redis_keys import Keys
from shared.settings import Settings


@pytest.fixture
def lost_script_replies(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first script to run on its primary loses its connection before the reply."""
    real = ClusterNode.execute_command
    lost: list[tuple[Any, ...]] = []

    async def reply_lost(self: ClusterNode, *args: Any, **kwargs: Any) -> Any:
        result = await real(self, *args, **kwargs)
        if args[0] in ("EVALSHA", "EVAL") and not lost:
            lost.append(args)
            raise redis.ConnectionError("Connection closed by server.")
        return result

    monkeypatch.setattr(ClusterNode, "execute_command", reply_lost)


async def test_a_failed_authentication_is_counted_once_when_its_reply_is_lost(
    cluster_settings: Settings, cluster_rds: Any, uid: str, lost_script_replies: None
) -> None:
    keys = Keys.of(cluster_settings)
    throttle = AuthThrottle(cluster_rds, keys, per_minute=5)
    await throttle.failed(f"192.0.2.{uid}")  # the lost reply is taken as Redis unavailable
    assert await cluster_rds.get(keys.auth_failures(f"192.0.2.{uid}")) == "1"


async def test_a_stream_lease_whose_reply_is_lost_is_an_error_not_a_full_quota(
    cluster_settings: Settings, cluster_rds: Any, uid: str, lost_script_replies: None
) -> None:
    """Run again, the lease script would find the partner's one slot taken by itself and
    refuse the stream as over its limit; the partner should hear "retry" instead."""
    keys = Keys.of(cluster_settings)
    slots = StreamSlots(cluster_rds, keys, per_partner=1)
    with pytest.raises(redis.ConnectionError):
        await slots.acquire(uid)
    assert await cluster_rds.zcard(keys.open_streams(uid)) == 1
