"""The recorder process: read the event stream with a consumer group, write PostgreSQL, ack."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from typing import Any

import asyncpg
import redis.asyncio as redis
from prometheus_client import Counter, Gauge
from redis.exceptions import ResponseError

from recorder import rows, writer
from shared.db import create_pool
from shared.process import wait_for_signal
from shared.redis_client import connect
from shared.redis_keys import RECORDER_GROUP, Keys
from shared.settings import Settings

log = logging.getLogger(__name__)

ROWS = Counter("evcs_recorder_rows_total", "Rows written to PostgreSQL")
ENTRIES = Counter("evcs_recorder_entries_total", "Stream entries acknowledged")
WRITE_ERRORS = Counter("evcs_recorder_write_errors_total", "Failed batch writes (retried)")
LAG = Gauge("evcs_recorder_lag_seconds", "Age of the newest entry in the last batch")

Entries = list[tuple[str, str, dict[Any, Any]]]  # (stream, entry id, fields)


class Recorder:
    def __init__(self, settings: Settings, r: redis.Redis, pool: asyncpg.Pool) -> None:
        self.settings = settings
        self.redis = r
        self.pool = pool
        self.keys = Keys(settings.redis_prefix)
        self.streams = self.keys.streams(settings.stream_shards)
        self.consumer = f"{socket.gethostname()}-{os.getpid()}"
        self._stopping = asyncio.Event()
        self.recorded = 0

    async def ensure_groups(self) -> None:
        for stream in self.streams:
            try:
                # From the stream's start: what csms appended before any recorder ran counts too.
                await self.redis.xgroup_create(stream, RECORDER_GROUP, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    async def run(self) -> None:
        await self.ensure_groups()
        await self.pool.execute("SELECT evcs_ensure_partitions(2)")
        last_claim = last_trim = last_partitions = time.monotonic()
        await self._drain(await self._claim())
        while not self._stopping.is_set():
            try:
                entries = await self._read()
            except (redis.ConnectionError, redis.TimeoutError, OSError):
                log.warning("redis unavailable; retrying")
                await asyncio.sleep(1)
                continue
            await self._drain(entries)
            now = time.monotonic()
            if now - last_claim > self.settings.recorder_claim_idle_ms / 1000:
                await self._drain(await self._claim())
                last_claim = now
            if now - last_trim > 5:
                await self._trim()
                last_trim = now
            if now - last_partitions > 3600:
                await self.pool.execute("SELECT evcs_ensure_partitions(2)")
                last_partitions = now

    def stop(self) -> None:
        self._stopping.set()

    async def _read(self) -> Entries:
        reply = await self.redis.xreadgroup(
            RECORDER_GROUP,
            self.consumer,
            dict.fromkeys(self.streams, ">"),
            count=self.settings.recorder_batch,
            block=500,
        )
        return [
            (stream, entry_id, fields)
            for stream, entries in reply or []
            for entry_id, fields in entries
        ]

    async def _claim(self) -> Entries:
        """Entries another recorder took but never acknowledged (it crashed): ours now."""
        out: Entries = []
        for stream in self.streams:
            start = "0-0"
            while True:
                start, claimed, *_ = await self.redis.xautoclaim(
                    stream,
                    RECORDER_GROUP,
                    self.consumer,
                    self.settings.recorder_claim_idle_ms,
                    start_id=start,
                    count=self.settings.recorder_batch,
                )
                out.extend((stream, entry_id, fields) for entry_id, fields in claimed if fields)
                if start == "0-0":
                    break
        return out

    async def _drain(self, entries: Entries) -> None:
        """Write the entries, retrying until PostgreSQL takes them, then acknowledge them."""
        if not entries:
            return
        batch = rows.Batch()
        for _, entry_id, fields in entries:
            event = rows.decode(fields)
            if event is None:
                batch.skipped += 1
                log.warning("undecodable stream entry skipped", extra={"entry_id": entry_id})
                continue
            rows.add(batch, entry_id, event)
        delay = 0.5
        while True:
            try:
                await writer.write(self.pool, batch)
                break
            except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError) as exc:
                WRITE_ERRORS.inc()
                log.warning(
                    "batch write failed; retrying", extra={"error": repr(exc), "rows": batch.rows}
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)
        by_stream: dict[str, list[str]] = {}
        for stream, entry_id, _ in entries:
            by_stream.setdefault(stream, []).append(entry_id)
        for stream, ids in by_stream.items():
            await self.redis.xack(stream, RECORDER_GROUP, *ids)
        ROWS.inc(batch.rows)
        ENTRIES.inc(len(entries))
        self.recorded += len(entries)
        LAG.set(max(0.0, time.time() - rows.received_at(entries[-1][1]).timestamp()))

    async def _trim(self) -> None:
        """Trim below the oldest entry a group still needs: pending, or not yet delivered."""
        for stream in self.streams:
            try:
                groups = await self.redis.xinfo_groups(stream)
            except ResponseError:
                continue
            floor: str | None = None
            for group in groups:
                pending = await self.redis.xpending(stream, group["name"])
                needed = pending["min"] if pending["pending"] else group["last-delivered-id"]
                if needed and (floor is None or _id_lt(needed, floor)):
                    floor = needed
            keep_from = f"{int((time.time() - self.settings.stream_retention_seconds) * 1000)}-0"
            if floor is None or _id_lt(keep_from, floor):
                floor = keep_from
            if floor != "0-0":
                await self.redis.xtrim(stream, minid=floor, approximate=False)


def _id_lt(a: str, b: str) -> bool:
    ams, _, aseq = a.partition("-")
    bms, _, bseq = b.partition("-")
    return (int(ams), int(aseq or 0)) < (int(bms), int(bseq or 0))


async def run_recorder(settings: Settings) -> None:
    """Run a recorder until SIGTERM/SIGINT; the batch in hand is finished first."""
    assert settings.redis_url and settings.database_url
    r = connect(settings.redis_url)
    pool = await create_pool(settings.database_url, min_size=1, max_size=4)
    recorder = Recorder(settings, r, pool)
    log.info("recorder started", extra={"consumer": recorder.consumer, "streams": recorder.streams})
    task = asyncio.create_task(recorder.run())
    stop = asyncio.create_task(wait_for_signal())
    await asyncio.wait([task, stop], return_when=asyncio.FIRST_COMPLETED)
    recorder.stop()
    await task
    stop.cancel()
    await pool.close()
    await r.aclose()
