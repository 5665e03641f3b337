"""The recorder process: read the event stream with a consumer group, write PostgreSQL, ack."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from contextlib import AsyncExitStack

import asyncpg
import orjson
import redis.asyncio as redis
from prometheus_client import Counter, Gauge
from redis.exceptions import AskError, ResponseError, TryAgainError

from recorder import rows, writer
from shared import db, ops_http
from shared import events as ev
from shared.db import PARTITION_DAYS_AHEAD, create_pool
from shared.process import Service
from shared.redis_client import connect
from shared.redis_keys import RECORDER_GROUP, Keys, tag_of
from shared.settings import Settings

log = logging.getLogger(__name__)

ROWS = Counter("evcs_recorder_rows_total", "Rows written to PostgreSQL")
ENTRIES = Counter("evcs_recorder_entries_total", "Stream entries acknowledged")
WRITE_ERRORS = Counter("evcs_recorder_write_errors_total", "Failed batch writes (retried)")
REDIS_ERRORS = Counter("evcs_recorder_redis_errors_total", "Failed Redis calls (retried)")
LAG = Gauge("evcs_recorder_lag_seconds", "Age of the newest entry in the last batch; 0 when idle")
PENDING = Gauge(
    "evcs_recorder_pending_entries", "Entries delivered to the group but not yet acknowledged"
)

REFUSED = Counter(
    "evcs_recorder_refused_entries_total",
    "Entries PostgreSQL refused (a NUL character, a date out of range), set aside in Redis",
)

# What a batch write retries on: PostgreSQL unavailable, and any server error but those below
# (a batch that keeps failing stays in the stream, where it is safe, until someone looks).
_PG_DOWN = (*db.UNAVAILABLE, asyncpg.PostgresError)
# What PostgreSQL refuses in the data itself, however often it is asked (SQLSTATE classes 22
# and 23): the batch is written in halves down to the entry at fault, which is set aside, so
# that one charger's odd message cannot hold up every entry behind it.
_REFUSED = (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError)
# Entries set aside per shard, at most (the oldest go first).
REFUSED_KEPT = 10_000

Entries = list[tuple[str, str | None]]  # (entry id, its event's JSON) of one stream
PARTITIONS_EVERY = 3600.0
REDIRECT_PAUSE = 0.05
TRIM_EVERY = 5.0
# How often to look for shards an earlier EVCS_STREAM_SHARDS named (a SCAN of each primary).
LEFTOVERS_EVERY = 300.0

# What Redis answers about a stream deleted (by another recorder, once empty) under a reader.
_GONE = ("NOGROUP", "requires the key to exist", "no longer exists")
# Deletes a stream once it holds nothing, atomically: a csms writing to it meanwhile keeps it.
_DELETE_IF_EMPTY = (
    "if redis.call('XLEN', KEYS[1]) == 0 then return redis.call('DEL', KEYS[1]) end return 0"
)


class Recorder:
    """Follows every stream shard with a loop of its own (on a cluster each shard lives on
    its own primary), writing PostgreSQL and acknowledging after commit."""

    def __init__(self, settings: Settings, r: redis.Redis, pool: asyncpg.Pool) -> None:
        self.settings = settings
        self.redis = r
        self.pool = pool
        self.keys = Keys.of(settings)
        self.streams = self.keys.streams()
        # row ids carry the shard's tag, so a leftover shard's rows are those it would have had
        self.tags = {stream: tag_of(stream) for stream in self.streams}
        self.consumer = f"{socket.gethostname()}-{os.getpid()}"
        self._stopping = asyncio.Event()
        self._pending: dict[str, int] = {}
        self.recorded = 0

    async def ensure_groups(self) -> None:
        for stream in self.streams:
            await self._ensure_group(stream)

    async def _ensure_group(self, stream: str, create: bool = True) -> None:
        try:
            # From the stream's start: what csms appended before any recorder ran counts too.
            await self.redis.xgroup_create(stream, RECORDER_GROUP, id="0", mkstream=create)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.ensure_groups()
                break
            except Exception as exc:  # Redis not serving yet: starting, loading its data
                await self._redis_failed(exc)
        loops = [self._keep_partitions(), self._keep_leftovers()]
        await asyncio.gather(*loops, *(self._follow(stream) for stream in self.streams))

    async def _keep_leftovers(self) -> None:
        """Follow the shards an earlier EVCS_STREAM_SHARDS named, which no csms of this count
        writes: what chargers were answered for there is recorded too, then the shard goes."""
        following: dict[str, asyncio.Task[None]] = {}
        while not self._stopping.is_set():
            for stream in await self._leftovers():
                if stream not in following or following[stream].done():
                    log.warning(
                        "recording a shard of another EVCS_STREAM_SHARDS until it is empty",
                        extra={"stream": stream},
                    )
                    self.tags[stream] = tag_of(stream)
                    following[stream] = asyncio.create_task(self._follow(stream, leftover=True))
            await self._pause(LEFTOVERS_EVERY)
        await asyncio.gather(*following.values())

    async def _leftovers(self) -> list[str]:
        """Stream shards of this prefix that this recorder's shard count does not name."""
        ours, found = set(self.streams), []
        try:
            for client in self.redis.primary_clients():
                async for key in client.scan_iter(
                    match=self.keys.streams_pattern, count=10_000, _type="stream"
                ):
                    if key not in ours:
                        found.append(key)
        except Exception as exc:  # Redis unavailable: the next look finds them
            REDIS_ERRORS.inc()
            log.warning("cannot look for leftover shards", extra={"error": repr(exc)})
        return found

    async def _follow(self, stream: str, leftover: bool = False) -> None:
        idle_s = self.settings.recorder_claim_idle_ms / 1000
        last_claim = float("-inf")
        last_trim = time.monotonic()
        # Entries Redis delivered to this consumer whose reply never arrived (the connection
        # died with it in flight, as when Redis restarts) wait in its pending list; other
        # recorders could claim them only once idle for recorder_claim_idle_ms. Read them
        # back at once instead: at the start and after every failure.
        recover = True
        while not self._stopping.is_set():
            now = time.monotonic()
            try:
                if leftover and recover:
                    await self._ensure_group(stream, create=False)
                if recover:
                    await self._recover(stream)
                    recover = False
                if now - last_claim > idle_s and not self._stopping.is_set():
                    await self._drain(stream, await self._claim(stream))
                    last_claim = now
                if self._stopping.is_set():  # a batch given up on, PostgreSQL down: take no more
                    break
                await self._drain(stream, await self._read(stream))
                if now - last_trim > TRIM_EVERY:
                    await self._trim(stream, emptying=leftover)
                    last_trim = now
                    if leftover and await self._on(stream).eval(_DELETE_IF_EMPTY, 1, stream):
                        log.info("leftover shard recorded and emptied", extra={"stream": stream})
                        return
            except ResponseError as exc:
                recover = True
                if leftover and any(m in str(exc) for m in _GONE):
                    return  # emptied and deleted by another recorder; a later look finds it again
                if "NOGROUP" in str(exc):
                    # Redis came back without its data (no append-only file): a new group.
                    log.warning("consumer group missing; creating it again")
                    await self._ensure_group(stream)
                else:
                    await self._redis_failed(exc)
            except Exception as exc:  # a lost node, a failover: never the end of the recorder
                recover = True
                await self._redis_failed(exc)

    async def _redis_failed(self, exc: Exception) -> None:
        """Unacknowledged entries stay pending and are claimed again once Redis answers; the
        shard may have moved (MOVED, a promoted replica), so read the slot map again."""
        if isinstance(exc, AskError | TryAgainError):  # its slot is moving: soon settled
            await self._pause(REDIRECT_PAUSE)
            await self.redis.refresh_topology()
            return
        REDIS_ERRORS.inc()
        log.warning("cannot follow the stream; retrying", extra={"error": repr(exc)})
        await self._pause(1)
        try:
            await self.redis.refresh_topology()
        except Exception as refresh_failed:
            log.warning("cannot read the slot map", extra={"error": repr(refresh_failed)})

    def _on(self, stream: str) -> redis.Redis:
        """A plain client on the primary that holds the stream (the one server, unclustered):
        XREADGROUP names its keys where a cluster client has to ask a server to find them."""
        client: redis.Redis = self.redis.node_client(stream)
        return client

    async def _keep_partitions(self) -> None:
        while not self._stopping.is_set():
            await self._ensure_partitions()
            await self._pause(PARTITIONS_EVERY)

    async def _ensure_partitions(self) -> None:
        try:
            await self.pool.execute(
                "SELECT evcs_maintain_partitions($1, $2)",
                PARTITION_DAYS_AHEAD,
                self.settings.history_retention_days,
            )
        except _PG_DOWN as exc:
            # Rows still land in the default partition; the next hourly call catches up.
            WRITE_ERRORS.inc()
            log.warning("could not create partitions", extra={"error": repr(exc)})

    async def _pause(self, seconds: float) -> None:
        """Sleep, but wake at once when asked to stop."""
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            pass

    def stop(self) -> None:
        self._stopping.set()

    async def _read(self, stream: str, after: str = ">") -> Entries:
        """New entries (`>`, waiting up to half a second for some), or this consumer's own
        pending entries after the id `after`."""
        # The command name as bytes skips redis-py's reply parsing, which builds a dict per
        # entry (a fifth of the recorder's time); the reply comes as the server sent it: a
        # map of stream -> entries (RESP3), or a list of [stream, entries] (RESP2).
        block = ("BLOCK", 500) if after == ">" else ()
        reply = await self._on(stream).execute_command(
            b"XREADGROUP",
            "GROUP",
            RECORDER_GROUP,
            self.consumer,
            "COUNT",
            self.settings.recorder_batch,
            *block,
            "STREAMS",
            stream,
            after,
        )
        per_stream = reply.values() if isinstance(reply, dict) else (got for _, got in reply or [])
        field = ev.FIELD  # nearly every entry has this one field only: [FIELD, event]
        entries = [
            (entry_id, fields[1])
            if fields and len(fields) == 2 and fields[0] == field
            else (entry_id, _event_of(fields))
            for got in per_stream
            for entry_id, fields in got
        ]
        if not entries:
            LAG.set(0)
        return entries

    async def _recover(self, stream: str) -> None:
        """Write and acknowledge what was delivered to this consumer and never acknowledged."""
        after = "0"
        while entries := await self._read(stream, after):
            await self._drain(stream, entries)
            after = entries[-1][0]

    async def _claim(self, stream: str) -> Entries:
        """Entries another recorder took but never acknowledged (it crashed): ours now."""
        out: Entries = []
        start = "0-0"
        while True:
            start, claimed, *_ = await self._on(stream).xautoclaim(
                stream,
                RECORDER_GROUP,
                self.consumer,
                self.settings.recorder_claim_idle_ms,
                start_id=start,
                count=self.settings.recorder_batch,
            )
            out.extend((entry_id, fields.get(ev.FIELD)) for entry_id, fields in claimed if fields)
            if start == "0-0":
                return out

    async def _drain(self, stream: str, entries: Entries) -> None:
        """Write the entries, retrying until PostgreSQL takes them, then acknowledge them."""
        if entries:
            await self._store(stream, entries, self._batch(stream, entries))

    def _batch(self, stream: str, entries: Entries) -> rows.Batch:
        """The rows of the entries of a stream."""
        batch = rows.Batch()
        tag = self.tags[stream]
        add = rows.add
        for entry_id, payload in entries:
            if payload is None:  # deleted from the stream while pending: nothing to keep
                batch.skipped += 1
                continue
            try:
                # a payload that is not JSON: JSONDecodeError, a ValueError; JSON that is not
                # an object: TypeError at its first field
                add(batch, entry_id, orjson.loads(payload), tag)
            except (KeyError, TypeError, ValueError, IndexError, OverflowError) as exc:
                # One malformed entry must not stall every entry behind it, nor be lost: it is
                # set aside with the batch (a NUL in a unit, say, which PostgreSQL refuses).
                batch.aside.append((entry_id, payload, exc))
        return batch

    async def _store(self, stream: str, entries: Entries, batch: rows.Batch) -> None:
        """Write the batch, retrying until PostgreSQL takes it, then acknowledge its entries."""
        delay = 0.5
        while True:
            try:
                await writer.write(self.pool, batch)
                break
            except _REFUSED as exc:
                await self._store_apart(stream, entries, exc)
                return
            except _PG_DOWN as exc:
                WRITE_ERRORS.inc()
                log.warning(
                    "batch write failed; retrying", extra={"error": repr(exc), "rows": batch.rows}
                )
                if self._stopping.is_set():
                    return  # unacknowledged: another recorder claims these entries
                await self._pause(delay)
                delay = min(delay * 2, 5)
        for entry_id, payload, why in batch.aside:
            await self._put_aside(stream, (entry_id, payload), why)
        await self._on(stream).xack(stream, RECORDER_GROUP, *(entry_id for entry_id, _ in entries))
        ROWS.inc(batch.rows)
        ENTRIES.inc(len(entries))
        self.recorded += len(entries)
        LAG.set(max(0.0, time.time() - rows.received_at(entries[-1][0]).timestamp()))

    async def _store_apart(self, stream: str, entries: Entries, refused: Exception) -> None:
        """PostgreSQL refuses something in these entries: write their halves apart, down to the
        entry it refuses, which is set aside."""
        if len(entries) == 1:
            await self._set_aside(stream, entries[0], refused)
            return
        half = len(entries) // 2
        for part in (entries[:half], entries[half:]):
            await self._store(stream, part, self._batch(stream, part))

    async def _set_aside(
        self, stream: str, entry: tuple[str, str | None], refused: Exception
    ) -> None:
        """Keep an entry PostgreSQL refuses beside its shard, with why, and acknowledge it."""
        await self._put_aside(stream, entry, refused)
        await self._on(stream).xack(stream, RECORDER_GROUP, entry[0])
        ENTRIES.inc()
        self.recorded += 1

    async def _put_aside(
        self, stream: str, entry: tuple[str, str | None], refused: BaseException
    ) -> None:
        """Keep an entry that cannot become rows beside its shard, with why."""
        entry_id, payload = entry
        REFUSED.inc()
        log.error(
            "stream entry cannot be recorded; set aside",
            extra={
                "entry_id": entry_id,
                "kept_in": self.keys.refused(stream),
                "error": repr(refused),
            },
        )
        await self._on(stream).xadd(
            self.keys.refused(stream),
            {
                "stream": stream,
                "entry_id": entry_id,
                "error": repr(refused),
                ev.FIELD: payload or "",
            },
            maxlen=REFUSED_KEPT,
            approximate=True,
        )

    async def _trim(self, stream: str, emptying: bool = False) -> None:
        """Trim below the oldest entry a group still needs: pending, or not yet delivered
        (`emptying`: a leftover shard, whose last delivered entry goes too)."""
        client = self._on(stream)
        try:
            groups = await client.xinfo_groups(stream)
        except ResponseError:
            return
        floor: str | None = None
        for group in groups:
            pending = await client.xpending(stream, group["name"])
            if group["name"] == RECORDER_GROUP:
                self._pending[stream] = pending["pending"]
            needed = pending["min"] if pending["pending"] else group["last-delivered-id"]
            if emptying and not pending["pending"] and needed:
                needed = _next_id(needed)
            if needed and (floor is None or _id_lt(needed, floor)):
                floor = needed
        keep_from = f"{int((time.time() - self.settings.stream_retention_seconds) * 1000)}-0"
        if floor is None or _id_lt(keep_from, floor):
            floor = keep_from
        if floor != "0-0":
            await client.xtrim(stream, minid=floor, approximate=False)
        PENDING.set(sum(self._pending.values()))


def _event_of(fields: list[str] | None) -> str | None:
    """The event field of an entry as the server sent it: [name, value, ...]; None for an
    entry deleted from the stream while pending."""
    if not fields:
        return None
    for i in range(0, len(fields) - 1, 2):
        if fields[i] == ev.FIELD:
            return fields[i + 1]
    return None


def _next_id(entry_id: str) -> str:
    ms, _, seq = entry_id.partition("-")
    return f"{ms}-{int(seq or 0) + 1}"


def _id_lt(a: str, b: str) -> bool:
    ams, _, aseq = a.partition("-")
    bms, _, bseq = b.partition("-")
    return (int(ams), int(aseq or 0)) < (int(bms), int(bseq or 0))


class RecorderService(Service):
    """A recorder process: Redis, PostgreSQL, the ops endpoints and the recorder's loops; on
    stop the batches in hand are finished first."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings
        self._running: asyncio.Task[None] | None = None

    async def _start(self, stack: AsyncExitStack) -> None:
        settings = self.settings
        assert settings.redis_url and settings.database_url
        r = await connect(settings.redis_url, mode=settings.redis_mode)
        stack.push_async_callback(r.aclose)
        pool = await create_pool(settings.database_url, min_size=1, max_size=4)
        stack.push_async_callback(pool.close)
        checks = {"redis": r.ping, "postgresql": lambda: pool.fetchval("SELECT 1")}
        ops = await ops_http.start(settings.ops_host, settings.ops_port, checks)
        if ops is not None:
            stack.push_async_callback(ops.stop)
        recorder = Recorder(settings, r, pool)
        self._running = asyncio.create_task(recorder.run())
        stack.push_async_callback(self._finish, recorder, self._running)
        log.info(
            "recorder started", extra={"consumer": recorder.consumer, "streams": recorder.streams}
        )

    async def ended(self) -> None:
        assert self._running is not None
        await asyncio.shield(self._running)

    async def _finish(self, recorder: Recorder, running: asyncio.Task[None]) -> None:
        recorder.stop()
        await running
        log.info("recorder stopped", extra={"consumer": recorder.consumer})
