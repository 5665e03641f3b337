"""OCPP 1.6 transaction ids: integers unique across nodes, reserved from Redis in blocks ahead
of need, so that a StartTransaction takes one without waiting."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

log = logging.getLogger(__name__)


class OutOfTransactionIds(Exception):
    """Every reserved id is taken and the next block is still on its way: try again shortly."""


class TransactionIds:
    """Takes ids from reserved blocks; reserves the next block when half of one is used."""

    def __init__(self, r: Any, key: str, block: int = 1000) -> None:
        self._redis = r
        self._key = key
        self._block = block
        self._ranges: deque[range] = deque()
        self._next: range = range(0)
        self._reserving: asyncio.Task[None] | None = None

    async def reserve(self) -> None:
        """Reserve one more block now (a node does so before it takes chargers)."""
        end = int(await self._redis.incrby(self._key, self._block))
        self._ranges.append(range(end - self._block + 1, end + 1))

    def __call__(self) -> int:
        if not self._next and self._ranges:
            self._next = self._ranges.popleft()
        if len(self._next) < self._block // 2 and not self._ranges:
            self._reserve_soon()
        if not self._next:
            raise OutOfTransactionIds()
        value, self._next = self._next[0], self._next[1:]
        return value

    def _reserve_soon(self) -> None:
        if self._reserving is None or self._reserving.done():
            self._reserving = asyncio.get_running_loop().create_task(self._reserve_logged())

    async def _reserve_logged(self) -> None:
        try:
            await self.reserve()
        except Exception:  # the next take asks again
            log.warning("could not reserve transaction ids", exc_info=True)
