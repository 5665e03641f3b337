"""The one way to open a Redis connection."""

from __future__ import annotations

import redis.asyncio as redis


def connect(url: str, *, max_connections: int = 64) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        max_connections=max_connections,
        health_check_interval=30,
        socket_keepalive=True,
    )
