"""The one way to open a Redis connection."""

from __future__ import annotations

import redis.asyncio as redis


def connect(url: str, *, max_connections: int = 64) -> redis.Redis:
    """A client whose pool waits for a free connection instead of failing: a reconnection
    storm must queue for Redis, not turn into refused handshakes."""
    pool = redis.BlockingConnectionPool.from_url(
        url,
        decode_responses=True,
        max_connections=max_connections,
        timeout=10,
        health_check_interval=30,
        socket_keepalive=True,
    )
    return redis.Redis.from_pool(pool)  # the client owns the pool: aclose() closes both
