"""Which csms nodes are alive, refreshed in the background so a status read needs no lookup."""

from __future__ import annotations

import asyncio
import logging
import time

import redis.asyncio as redis

from shared.process import cancel
from shared.redis_keys import Keys

log = logging.getLogger(__name__)


class AliveNodes:
    """The node ids whose keep-alive score in `keys.nodes` lies in the future."""

    def __init__(self, r: redis.Redis, keys: Keys, interval: float = 1.0) -> None:
        self._redis = r
        self._keys = keys
        self.interval = interval
        self.alive: frozenset[str] = frozenset()
        self._task: asyncio.Task[None] | None = None

    async def refresh(self) -> None:
        members = await self._redis.zrangebyscore(self._keys.nodes, time.time(), "+inf")
        self.alive = frozenset(str(m) for m in members)

    async def _loop(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.refresh()
                failing = False
            except Exception:
                # Keep the last known set: a Redis hiccup must not mark every charger offline.
                if not failing:
                    log.warning("could not refresh the alive csms nodes", exc_info=True)
                failing = True

    async def start(self) -> None:
        """First refresh now, so the gateway never serves with an empty set; then every interval."""
        await self.refresh()
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        await cancel(self._task)
        self._task = None
