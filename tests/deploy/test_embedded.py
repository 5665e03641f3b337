"""The embedded Redis keeps an append-only file, comes back on its port with its data, and
takes the no-loss fsync policy when asked."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis

from shared import embedded


def test_embedded_redis_restarts_on_its_port_with_its_data(tmp_path: Path) -> None:
    folder = tmp_path / "redis"
    url = embedded.start_redis(folder)
    try:
        client = redis.Redis.from_url(url, decode_responses=True)
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("appendfsync") == {"appendfsync": "everysec"}
        entry = client.xadd("s", {"e": "1"})
        client.close()

        started = time.monotonic()
        embedded.stop_redis(folder)
        assert time.monotonic() - started < 5  # it does not wait out its timeout on a zombie
        assert embedded.start_redis(folder) == url
        client = redis.Redis.from_url(url, decode_responses=True)
        assert [i for i, _ in client.xrange("s")] == [entry]
        client.close()
    finally:
        embedded.stop_redis(folder)


def test_embedded_redis_can_fsync_every_write(tmp_path: Path) -> None:
    folder = tmp_path / "redis"
    url = embedded.start_redis(folder, appendfsync="always")
    try:
        client = redis.Redis.from_url(url, decode_responses=True)
        assert client.config_get("appendfsync") == {"appendfsync": "always"}
        client.close()
    finally:
        embedded.stop_redis(folder)
    with pytest.raises(ValueError):
        embedded.start_redis(folder, appendfsync="no")
