"""The recorder: stream -> PostgreSQL, once, acknowledged only after commit."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis.asyncio as redis

from recorder import app, writer
from recorder.app import Recorder
from shared import embedded
from shared import events as ev
from shared.redis_client import connect
from shared.redis_keys import RECORDER_GROUP, Keys
from shared.settings import Settings
from tests.gateway.support import eventually


@pytest.fixture
async def stream_settings(settings: Settings, uid: str) -> Settings:
    # each test gets its own stream (own prefix), so counts are exact
    return settings.model_copy(
        update={"redis_prefix": f"{settings.redis_prefix}r{uid}", "recorder_claim_idle_ms": 200}
    )


@pytest.fixture
async def recorder(
    stream_settings: Settings, rds: redis.Redis, pool: asyncpg.Pool
) -> AsyncIterator[Recorder]:
    rec = Recorder(stream_settings, rds, pool)
    await rec.ensure_groups()
    yield rec


def _events(cp: str, n: int) -> list[dict]:
    now = time.time()
    out: list[dict] = []
    for i in range(n):
        out.append(
            {
                "type": ev.STATUS,
                "cp": cp,
                "at": now,
                "connector": 1,
                "ocpp_status": "Charging",
                "status": "CHARGING",
                "error_code": "NoError",
                "ts": "2026-01-01T00:00:00Z",
            }
        )
        out.append(
            {
                "type": ev.METER,
                "cp": cp,
                "at": now,
                "connector": 1,
                "transaction_id": "7",
                "ts": "2026-01-01T00:00:01Z",
                "samples": [
                    ["Energy.Active.Import.Register", None, 1000.0 + i, "Wh"],
                    ["Power.Active.Import", None, 11000.0, "W"],
                ],
            }
        )
    out.append(
        {
            "type": ev.TX_START,
            "cp": cp,
            "at": now,
            "connector": 1,
            "transaction_id": "7",
            "id_tag": "T",
            "meter_start_wh": 1000.0,
            "ts": "2026-01-01T00:00:00Z",
        }
    )
    out.append(
        {
            "type": ev.TX_STOP,
            "cp": cp,
            "at": now,
            "connector": 1,
            "transaction_id": "7",
            "meter_stop_wh": 5000.0,
            "reason": "Remote",
            "ts": "2026-01-01T01:00:00Z",
        }
    )
    return out


async def _append(rds: redis.Redis, keys: Keys, events: list[dict]) -> None:
    for e in events:
        await rds.xadd(keys.stream(0), ev.encode(e))  # type: ignore[arg-type]


async def _counts(pool: asyncpg.Pool, cp: str) -> tuple[int, int, int]:
    s = await pool.fetchval("SELECT count(*) FROM status_events WHERE charger_id = $1", cp)
    m = await pool.fetchval("SELECT count(*) FROM meter_values WHERE charger_id = $1", cp)
    t = await pool.fetchval("SELECT count(*) FROM transactions WHERE charger_id = $1", cp)
    return s, m, t


async def test_events_land_in_their_tables_and_are_acknowledged(
    recorder: Recorder, rds: redis.Redis, pool: asyncpg.Pool, uid: str
) -> None:
    cp = f"REC-{uid}"
    await _append(rds, recorder.keys, _events(cp, 50))
    await recorder._drain(recorder.streams[0], await recorder._read(recorder.streams[0]))
    assert await _counts(pool, cp) == (50, 100, 1)
    tx = await pool.fetchrow("SELECT * FROM transactions WHERE charger_id = $1", cp)
    assert tx["energy_wh"] == 4000.0 and tx["stop_reason"] == "Remote"
    pending = await rds.xpending(recorder.keys.stream(0), RECORDER_GROUP)
    assert pending["pending"] == 0


async def test_a_batch_delivered_twice_lands_once(
    recorder: Recorder, rds: redis.Redis, pool: asyncpg.Pool, uid: str
) -> None:
    cp = f"TWICE-{uid}"
    await _append(rds, recorder.keys, _events(cp, 10))
    entries = await recorder._read(recorder.streams[0])
    await recorder._drain(recorder.streams[0], entries)
    await recorder._drain(recorder.streams[0], entries)
    assert await _counts(pool, cp) == (10, 20, 1)


async def test_entries_of_a_crashed_recorder_are_claimed_by_another(
    stream_settings: Settings, recorder: Recorder, rds: redis.Redis, pool: asyncpg.Pool, uid: str
) -> None:
    cp = f"CRASH-{uid}"
    await _append(rds, recorder.keys, _events(cp, 5))
    taken = await recorder._read(recorder.streams[0])  # read, never written nor acked: the crash
    assert len(taken) == 12
    survivor = Recorder(stream_settings, rds, pool)
    survivor.consumer = "survivor"
    await asyncio.sleep(0.3)  # past recorder_claim_idle_ms
    await survivor._drain(recorder.streams[0], await survivor._claim(recorder.streams[0]))
    assert await _counts(pool, cp) == (5, 10, 1)
    assert (await rds.xpending(recorder.keys.stream(0), RECORDER_GROUP))["pending"] == 0


async def test_run_loop_records_and_trims_only_what_is_acknowledged(
    recorder: Recorder, rds: redis.Redis, pool: asyncpg.Pool, uid: str
) -> None:
    cp = f"LOOP-{uid}"
    recorder.settings = recorder.settings.model_copy(update={"stream_retention_seconds": 0})
    task = asyncio.create_task(recorder.run())
    try:
        await _append(rds, recorder.keys, _events(cp, 20))
        for _ in range(200):
            # all of it: the last meter values come after the last status, maybe a batch later
            if await _counts(pool, cp) == (20, 40, 1):
                break
            await asyncio.sleep(0.05)
        assert await _counts(pool, cp) == (20, 40, 1)
    finally:
        recorder.stop()
        await task


async def test_trimming_keeps_every_entry_not_yet_acknowledged(
    recorder: Recorder, rds: redis.Redis, pool: asyncpg.Pool, uid: str
) -> None:
    recorder.settings = recorder.settings.model_copy(update={"stream_retention_seconds": 0})
    await _append(rds, recorder.keys, _events(f"TRIM-{uid}", 10))
    await recorder._drain(recorder.streams[0], await recorder._read(recorder.streams[0]))
    await _append(rds, recorder.keys, _events(f"TRIM2-{uid}", 3))
    pending = await recorder._read(recorder.streams[0])  # delivered, not acknowledged
    await _append(rds, recorder.keys, _events(f"TRIM3-{uid}", 2))  # not even delivered
    await recorder._trim(recorder.streams[0])
    left = [entry_id for entry_id, _ in await rds.xrange(recorder.keys.stream(0))]
    assert left == [entry_id for entry_id, _ in pending] + left[len(pending) :]
    assert len(left) == len(pending) + 6


async def test_a_malformed_entry_is_set_aside_and_the_rest_land(
    recorder: Recorder, rds: redis.Redis, pool: asyncpg.Pool, uid: str
) -> None:
    cp = f"BADENTRY-{uid}"
    await rds.xadd(recorder.keys.stream(0), {"e": b"{not json"})
    await rds.xadd(
        recorder.keys.stream(0), ev.encode({"type": ev.STATUS, "cp": cp, "at": time.time()})
    )  # type: ignore[arg-type]
    await _append(rds, recorder.keys, _events(cp, 3))
    await recorder._drain(recorder.streams[0], await recorder._read(recorder.streams[0]))
    assert await _counts(pool, cp) == (3, 6, 1)
    assert (await rds.xpending(recorder.keys.stream(0), RECORDER_GROUP))["pending"] == 0
    aside = await rds.xrange(recorder.keys.refused(recorder.streams[0]))
    assert [fields[ev.FIELD][:9] for _, fields in aside] == ["{not json", '{"type":"']


async def test_the_earliest_start_of_a_transaction_sets_it_whichever_is_written_first(
    recorder: Recorder, rds: redis.Redis, pool: asyncpg.Pool, uid: str
) -> None:
    """A 2.0.1 charger reports a start again (Updated, with its token); after a recorder crash
    the later report may be written before the first."""
    cp, stream = f"START-{uid}", recorder.streams[0]

    def start(ts: str, wh: float, token: str | None) -> dict[str, Any]:
        return ev.tx_start(
            cp, time.time(), connector=1, transaction_id="T1", id_tag=token,
            meter_start_wh=wh, ts=ts,
        )  # fmt: skip

    await _append(rds, recorder.keys, [start("2026-01-01T10:05:00Z", 1500.0, "TAG")])
    await recorder._drain(stream, await recorder._read(stream))
    await _append(rds, recorder.keys, [start("2026-01-01T10:00:00Z", 1000.0, None)])
    await recorder._drain(stream, await recorder._read(stream))
    tx = await pool.fetchrow("SELECT * FROM transactions WHERE charger_id = $1", cp)
    assert (tx["started_at"].isoformat(), tx["meter_start_wh"], tx["id_tag"]) == (
        "2026-01-01T10:00:00+00:00",
        1000.0,
        "TAG",
    )


# What a charger may send that PostgreSQL refuses, as the csms puts it on the stream.
_REFUSED_BY_POSTGRES = {
    "a NUL character in a token": lambda cp: ev.tx_start(
        cp,
        time.time(),
        connector=1,
        transaction_id="1",
        id_tag="AB\x00CD",
        meter_start_wh=0.0,
        ts="2026-01-01T00:00:00Z",
    ),
    "a NUL character in a report": lambda cp: ev.report(
        cp, time.time(), "SecurityEventNotification", {"type": "X", "techInfo": "a\x00b"}
    ),
    "a date out of range": lambda cp: ev.tx_stop(
        cp,
        time.time(),
        connector=1,
        transaction_id="1",
        meter_stop_wh=1.0,
        reason="Local",
        ts="9999-12-31T23:59:59-01:00",
    ),
}


@pytest.mark.parametrize("refused", list(_REFUSED_BY_POSTGRES))
async def test_an_entry_postgres_refuses_is_set_aside_and_the_rest_land(
    recorder: Recorder, rds: redis.Redis, pool: asyncpg.Pool, uid: str, refused: str
) -> None:
    """Retrying would refuse it for ever, and every entry behind it would wait."""
    cp = f"REFUSED-{uid}"
    stream = recorder.streams[0]
    await _append(rds, recorder.keys, _events(cp, 3))
    await _append(rds, recorder.keys, [_REFUSED_BY_POSTGRES[refused](cp)])
    await _append(rds, recorder.keys, _events(cp, 4))
    await recorder._drain(stream, await recorder._read(stream))
    assert (await _counts(pool, cp))[:2] == (7, 14)
    assert (await rds.xpending(stream, RECORDER_GROUP))["pending"] == 0
    [(_, kept)] = await rds.xrange(recorder.keys.refused(recorder.streams[0]))
    assert ev.decode(kept)["cp"] == cp and kept["stream"] == stream


async def test_equal_entry_ids_in_two_shards_are_two_rows(
    stream_settings: Settings, rds: redis.Redis, pool: asyncpg.Pool, uid: str
) -> None:
    # Two shards hand out entry ids on their own: the same id in both is two events.
    recorder = Recorder(stream_settings.model_copy(update={"stream_shards": 2}), rds, pool)
    await recorder.ensure_groups()
    cp = f"SHARDS-{uid}"
    event = _events(cp, 1)[0]
    for stream in recorder.streams:
        await rds.xadd(stream, ev.encode(event), id="1700000000000-0")  # type: ignore[arg-type]
    for stream in recorder.streams:
        await recorder._drain(stream, await recorder._read(stream))
    assert await _counts(pool, cp) == (2, 0, 0)


async def test_entries_whose_delivery_was_cut_off_are_written_at_once_not_after_claim_idle(
    recorder: Recorder, rds: redis.Redis, pool: asyncpg.Pool, uid: str
) -> None:
    # Claiming from others waits a minute here: only the recorder's own recovery can be quick.
    recorder.settings = recorder.settings.model_copy(update={"recorder_claim_idle_ms": 60_000})
    stream = recorder.streams[0]
    cut = asyncio.Event()
    read = recorder._read

    async def read_cut_off_once(stream: str, after: str = ">") -> list[tuple[str, str | None]]:
        entries = await read(stream, after)
        if entries and after == ">" and not cut.is_set():
            # Redis delivered these (they are pending for this consumer), but the connection
            # died before the reply arrived: as when Redis restarts with a read in flight.
            cut.set()
            raise redis.ConnectionError("Connection closed by server.")
        return entries

    recorder._read = read_cut_off_once  # type: ignore[method-assign]
    task = asyncio.create_task(recorder.run())
    try:
        cp = f"CUT-{uid}"
        await _append(rds, recorder.keys, _events(cp, 5))
        await asyncio.wait_for(cut.wait(), 10)
        started = time.monotonic()
        while await _counts(pool, cp) != (5, 10, 1):
            assert time.monotonic() - started < 10, await _counts(pool, cp)
            await asyncio.sleep(0.05)
        assert (await rds.xpending(stream, RECORDER_GROUP))["pending"] == 0
    finally:
        recorder.stop()
        await task


async def test_a_recorder_started_while_redis_cannot_serve_waits_for_it(
    stream_settings: Settings, pool: asyncpg.Pool, tmp_path: Path, uid: str
) -> None:
    # A restarted recorder may meet a Redis that refuses connections or is still loading its
    # data: it must wait for it, not exit.
    folder = tmp_path / "redis"
    url = await asyncio.to_thread(embedded.start_redis, folder)
    await asyncio.to_thread(embedded.stop_redis, folder)
    r = await connect(url, mode="standalone")
    rec = Recorder(stream_settings.model_copy(update={"redis_url": url}), r, pool)
    task = asyncio.create_task(rec.run())
    try:
        await asyncio.sleep(0)  # it tries, and fails, before Redis is back
        assert await asyncio.to_thread(embedded.start_redis, folder) == url
        cp = f"LATE-{uid}"
        await _append(r, rec.keys, _events(cp, 3))
        started = time.monotonic()
        while await _counts(pool, cp) != (3, 6, 1):
            assert not task.done(), task.exception()
            assert time.monotonic() - started < 20, await _counts(pool, cp)
            await asyncio.sleep(0.05)
    finally:
        rec.stop()
        await task
        await r.aclose()
        await asyncio.to_thread(embedded.stop_redis, folder)


async def test_the_loop_writes_every_batch_it_read_before_it_stops(
    recorder: Recorder, rds: redis.Redis, pool: asyncpg.Pool, uid: str
) -> None:
    # Small batches, many of them: stopped in the middle, the loop ends after a whole one.
    recorder.settings = recorder.settings.model_copy(update={"recorder_batch": 7})
    cp = f"PIPE-{uid}"
    await _append(rds, recorder.keys, _events(cp, 40))
    task = asyncio.create_task(recorder.run())
    try:
        started = time.monotonic()
        while recorder.recorded < 20:
            assert time.monotonic() - started < 10
            await asyncio.sleep(0.001)
    finally:
        recorder.stop()
        await task
    # stopped part way through: what it read is written and acknowledged, the rest is left
    s, m, _ = await _counts(pool, cp)
    assert 20 <= s + m // 2 == min(recorder.recorded, 80) < 80
    stream = recorder.streams[0]
    assert (await rds.xpending(stream, RECORDER_GROUP))["pending"] == 0
    rest = Recorder(recorder.settings, rds, pool)
    while entries := await rest._read(stream):
        await rest._drain(stream, entries)
    assert await _counts(pool, cp) == (40, 80, 1)


async def test_a_recorder_stopped_while_postgres_is_down_takes_no_more_entries(
    stream_settings: Settings,
    rds: redis.Redis,
    pool: asyncpg.Pool,
    uid: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What it holds waits for another recorder; what it never took, any recorder reads."""
    settings = stream_settings.model_copy(update={"recorder_batch": 5})
    rec = Recorder(settings, rds, pool)
    await rec.ensure_groups()
    stream = rec.streams[0]
    await _append(rds, rec.keys, _events(f"DOWN-{uid}", 15))
    await rec._read(stream)  # 5 entries it took before a restart: it writes them first
    retrying = asyncio.Event()

    async def postgres_down(pool: asyncpg.Pool, batch: Any) -> None:
        retrying.set()
        raise ConnectionRefusedError("PostgreSQL is down")

    monkeypatch.setattr(writer, "write", postgres_down)
    task = asyncio.create_task(rec.run())
    try:
        await asyncio.wait_for(retrying.wait(), 10)
    finally:
        rec.stop()
        await task
    assert (await rds.xpending(stream, RECORDER_GROUP))["pending"] == 5


async def test_a_batch_whose_acknowledgement_failed_lands_once_and_is_acknowledged(
    recorder: Recorder, rds: redis.Redis, pool: asyncpg.Pool, uid: str
) -> None:
    # The batch is written, then Redis fails before its XACK: the recorder reads it back from
    # its pending entries, and it lands once.
    recorder.settings = recorder.settings.model_copy(update={"recorder_batch": 10})
    store = recorder._store
    failed = asyncio.Event()

    async def store_then_fail_once(stream: str, entries: Any, batch: Any) -> None:
        if failed.is_set():
            return await store(stream, entries, batch)
        failed.set()
        await writer.write(pool, batch)
        raise redis.ConnectionError("Connection closed by server.")

    recorder._store = store_then_fail_once  # type: ignore[method-assign]
    cp = f"ACKLOST-{uid}"
    await _append(rds, recorder.keys, _events(cp, 20))
    task = asyncio.create_task(recorder.run())
    try:
        started = time.monotonic()
        while (
            await _counts(pool, cp) != (20, 40, 1)
            or (await rds.xpending(recorder.streams[0], RECORDER_GROUP))["pending"]
        ):
            assert not task.done(), task.exception()
            assert time.monotonic() - started < 15, await _counts(pool, cp)
            await asyncio.sleep(0.05)
    finally:
        recorder.stop()
        await task
    assert failed.is_set()
    rows = await pool.fetchval(
        "SELECT count(*) - count(DISTINCT (stream_id, seq)) FROM meter_values WHERE charger_id = $1",
        cp,
    )
    assert rows == 0


@pytest.mark.parametrize("node_first", [False, True], ids=["gateway-first", "node-first"])
async def test_a_nodes_outcome_replaces_a_gateways_timeout_and_nothing_else(
    recorder: Recorder, rds: redis.Redis, pool: asyncpg.Pool, uid: str, node_first: bool
) -> None:
    """A gateway that saw no reply in time puts TIMEOUT on the stream; the node's outcome,
    however late, is what the charger answered."""
    cp, stream = f"LATE-{uid}", recorder.streams[0]

    def outcome(name: str, origin: str | None) -> dict[str, Any]:
        return dict(
            ev.command(
                cp, time.time(), command_id=f"cmd-{uid}", partner_id=None, action="start",
                params={}, ocpp_action=None if origin else "RemoteStartTransaction",
                outcome=name, response=None if origin else {"status": "Accepted"},
                message=None, origin=origin,
            )
        )  # fmt: skip

    gateway, node = outcome("TIMEOUT", "gateway"), outcome("ACCEPTED", None)
    ordered = [node, gateway] if node_first else [gateway, node]
    for event in [*ordered, gateway]:  # and a replay of the TIMEOUT
        await _append(rds, recorder.keys, [event])
        await recorder._drain(stream, await recorder._read(stream))
    row = await pool.fetchrow("SELECT * FROM commands WHERE id = $1", f"cmd-{uid}")
    assert (row["outcome"], row["ocpp_action"], row["response"]) == (
        "ACCEPTED",
        "RemoteStartTransaction",
        {"status": "Accepted"},
    )


@pytest.mark.parametrize(("before", "after"), [(4, 2), (2, 3), (3, 1)])
async def test_shards_of_an_earlier_count_are_recorded_then_removed(
    stream_settings: Settings,
    rds: redis.Redis,
    pool: asyncpg.Pool,
    uid: str,
    before: int,
    after: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """EVCS_STREAM_SHARDS changed with entries still unrecorded (PostgreSQL was down, say): the
    shards the new count does not name are recorded all the same, then deleted once empty."""
    monkeypatch.setattr(app, "TRIM_EVERY", 0.05)
    old = Keys(stream_settings.redis_prefix, before)
    chargers = [f"SHARDS{n}-{uid}" for n in range(16)]
    for cp in chargers:
        await rds.xadd(old.stream_for(cp), ev.encode(_events(cp, 1)[0]))  # type: ignore[arg-type]
    # an earlier recorder took one shard's entries and died: pending to a consumer gone
    gone = old.stream(before - 1)
    await rds.xgroup_create(gone, RECORDER_GROUP, id="0")
    await rds.xreadgroup(RECORDER_GROUP, "gone", {gone: ">"})

    settings = stream_settings.model_copy(
        update={"stream_shards": after, "stream_retention_seconds": 0}
    )
    recorder = Recorder(settings, rds, pool)
    leftovers = set(old.streams()) - set(recorder.streams)
    assert leftovers  # else the case tests nothing
    task = asyncio.create_task(recorder.run())
    try:

        async def recorded() -> bool:
            count = await pool.fetchval(
                "SELECT count(*) FROM status_events WHERE charger_id = ANY($1)", chargers
            )
            return bool(count == len(chargers))

        async def removed() -> bool:
            return await rds.exists(*leftovers) == 0

        await eventually(recorded, timeout=20)
        await eventually(removed, timeout=20)
    finally:
        recorder.stop()
        await task
    assert await rds.exists(*recorder.streams) == after  # its own shards stay, even empty
