"""Writes to Redis, coalesced across connections: every message's hash fields and stream
events join the next pipeline, and the message is answered only once that pipeline is in."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import redis.asyncio as redis

from csms.metrics import REDIS_ERRORS
from shared import events as ev
from shared.redis_keys import Keys

log = logging.getLogger(__name__)

Write = tuple[str, dict[str, str] | None, list[dict[str, Any]], asyncio.Future[None]]


class StateWriter:
    """Batches HSET + XADD from many chargers into few pipelined round trips."""

    def __init__(self, r: redis.Redis, keys: Keys, shards: int, max_inflight: int = 4) -> None:
        self._redis = r
        self._keys = keys
        self._shards = shards
        self._pending: list[Write] = []
        self._inflight = 0
        self._max_inflight = max_inflight
        self._tasks: set[asyncio.Task[None]] = set()
        self.batches = 0
        self.writes = 0

    async def write(
        self, charger_id: str, fields: dict[str, str] | None, events: list[dict[str, Any]]
    ) -> None:
        """Return once the fields and events are in Redis; raise if they could not be written."""
        if not fields and not events:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((charger_id, fields, events, fut))
        if self._inflight < self._max_inflight:
            self._inflight += 1
            asyncio.get_running_loop().call_soon(self._start_flush)
        await fut

    def _start_flush(self) -> None:
        task = asyncio.get_running_loop().create_task(self._flush())
        self._tasks.add(task)  # a task nobody references can be collected mid-flight
        task.add_done_callback(self._tasks.discard)

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                await self._execute(batch)
        finally:
            self._inflight -= 1

    async def _execute(self, batch: list[Write]) -> None:
        pipe = self._redis.pipeline(transaction=False)
        keys, shards = self._keys, self._shards
        for charger_id, fields, events, _ in batch:
            if fields:
                pipe.hset(keys.charger(charger_id), mapping=fields)
            if events:
                stream = keys.stream_for(charger_id, shards)
                for event in events:
                    pipe.xadd(stream, ev.encode(event))
        try:
            await pipe.execute()
        except (
            Exception
        ) as exc:  # every waiter must learn its write failed, then it answers InternalError
            log.warning("redis write failed", extra={"batch": len(batch), "error": repr(exc)})
            REDIS_ERRORS.inc()
            for *_, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
            return
        self.batches += 1
        self.writes += len(batch)
        for *_, fut in batch:
            if not fut.done():
                fut.set_result(None)
