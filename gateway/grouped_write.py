"""Group commit for one statement: the rows concurrent requests write while a commit is in
flight go together in the next one. A burst of ten commands then pays two commits instead of
ten queued one behind the other on PostgreSQL's WAL flush."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import asyncpg


class GroupedWrite:
    """`await write(rows)` returns once the rows are committed and raises what the commit
    raised: the rows of a group share its fate, as the statement is all or nothing."""

    def __init__(self, pool: asyncpg.Pool, statement: str) -> None:
        self._pool = pool
        self._statement = statement
        self._rows: list[Sequence[object]] = []
        self._waiting: list[asyncio.Future[None]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def write(self, rows: Sequence[Sequence[object]]) -> None:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._rows.extend(rows)
        self._waiting.append(done)
        if self._flushing is None:
            self._flushing = loop.create_task(self._flush())
        await done  # a caller that gives up leaves its rows in the group: they are written

    async def _flush(self) -> None:
        waiting: list[asyncio.Future[None]] = []
        try:
            while self._waiting:
                rows, waiting = self._rows, self._waiting
                self._rows, self._waiting = [], []
                try:
                    await self._pool.executemany(self._statement, rows)
                except Exception as exc:
                    _settle(waiting, exc)
                else:
                    _settle(waiting, None)
        finally:
            self._flushing = None
            for w in (*waiting, *self._waiting):  # cancelled mid-commit: the process is stopping
                w.cancel()
            self._rows, self._waiting = [], []


def _settle(waiting: list[asyncio.Future[None]], exc: Exception | None) -> None:
    for w in waiting:
        if w.done():  # its caller was cancelled
            continue
        if exc is None:
            w.set_result(None)
        else:
            w.set_exception(exc)
