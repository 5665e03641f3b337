"""OCPP 1.6 transaction ids: integers unique across nodes, taken from Redis in blocks so a
StartTransaction costs no extra round trip most of the time."""

from __future__ import annotations

import asyncio

import redis.asyncio as redis


class TransactionIds:
    def __init__(self, r: redis.Redis, key: str, block: int = 100) -> None:
        self._redis = r
        self._key = key
        self._block = block
        self._next = 0
        self._end = 0
        self._lock = asyncio.Lock()

    async def __call__(self) -> int:
        if self._next >= self._end:
            async with self._lock:
                if self._next >= self._end:
                    end = int(await self._redis.incrby(self._key, self._block))
                    self._next, self._end = end - self._block + 1, end + 1
        value = self._next
        self._next += 1
        return value
