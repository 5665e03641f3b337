"""The history rows the recorder encodes itself (PostgreSQL's binary COPY format) land with the
values asyncpg's encoding of the same records gave them, and an entry whose fields have the
wrong types is skipped on its own instead of failing its whole batch."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import asyncpg
import orjson
import pytest
import redis.asyncio as redis

from recorder import rows, writer
from recorder.app import Recorder
from shared import events as ev
from shared.redis_keys import RECORDER_GROUP
from shared.settings import Settings

MS = 1_767_225_600_123  # 2026-01-01T00:00:00.123Z
AT = datetime(2026, 1, 1, 0, 0, 0, 123_000, tzinfo=UTC)
INFINITY = datetime.max  # asyncpg's reading of PostgreSQL's infinity (naive)
# the charger's timestamp as sent -> as stored
TIMESTAMPS: list[tuple[Any, datetime | None]] = [
    ("2026-01-01T00:00:00Z", datetime(2026, 1, 1, tzinfo=UTC)),
    ("2026-03-04T05:06:07.123456+02:00", datetime(2026, 3, 4, 3, 6, 7, 123_456, tzinfo=UTC)),
    ("2026-03-04T05:06:07", datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)),  # no offset: UTC
    ("1999-12-31T23:59:59.999999-11:30", datetime(2000, 1, 1, 11, 29, 59, 999_999, tzinfo=UTC)),
    ("9999-12-31T23:59:59.999999Z", INFINITY),  # Python's last instant: infinity, as before
    # what RFC 3339 allows and fromisoformat does not: lower case, a leap second
    ("2026-01-01t00:00:00z", datetime(2026, 1, 1, tzinfo=UTC)),
    ("2016-12-31T23:59:60Z", datetime(2017, 1, 1, tzinfo=UTC)),
    ("2016-12-31T23:59:60.5+00:00", datetime(2017, 1, 1, 0, 0, 0, 500_000, tzinfo=UTC)),
    ("not a time", None),
    (17, None),
    ([1, 2], None),
    (None, None),
]


async def _stored(pool: asyncpg.Pool, table: str, cp: str) -> list[asyncpg.Record]:
    order = "stream_id, seq" if table == "meter_values" else "stream_id"
    return await pool.fetch(f"SELECT * FROM {table} WHERE charger_id = $1 ORDER BY {order}", cp)


async def test_status_rows_hold_every_field_as_sent(pool: asyncpg.Pool, uid: str) -> None:
    cp = f"ROWS-S-{uid}-ünï ✓"
    batch = rows.Batch()
    for i, (ts, _) in enumerate(TIMESTAMPS):
        event = {
            "type": ev.STATUS,
            "cp": cp,
            "at": 0,
            "connector": [0, 1, 2**31 - 1, -5][i % 4],
            "ocpp_status": "Charging",
            "status": "x" * 300 if i == 1 else "CHARGING",
            "error_code": None if i % 2 else "NoError",
            "ts": ts,
        }
        rows.add(batch, f"{MS}-{i}", event, "7" if i == 2 else "0")  # type: ignore[arg-type]
    await writer.write(pool, batch)
    found = await _stored(pool, "status_events", cp)
    ids = sorted([f"{MS}-{i}" for i in range(len(TIMESTAMPS)) if i != 2] + [f"7:{MS}-2"])
    assert [r["stream_id"] for r in found] == ids
    by_id = {r["stream_id"]: r for r in found}
    for i, (_, stored_ts) in enumerate(TIMESTAMPS):
        r = by_id[f"7:{MS}-2" if i == 2 else f"{MS}-{i}"]
        assert r["received_at"] == AT
        assert r["connector_id"] == [0, 1, 2**31 - 1, -5][i % 4]
        assert (r["ocpp_status"], r["status"]) == ("Charging", "x" * 300 if i == 1 else "CHARGING")
        assert r["error_code"] == (None if i % 2 else "NoError")
        assert r["ts"] == stored_ts, i


async def test_meter_rows_hold_every_sample_in_order(pool: asyncpg.Pool, uid: str) -> None:
    cp = f"ROWS-M-{uid}"
    many = [["Power.Active.Import", f"L{i % 3 + 1}", float(i), "W"] for i in range(300)]
    events = [
        {  # the common case
            "transaction_id": "42",
            "ts": "2026-01-01T00:00:01+01:00",
            "samples": [
                ["Energy.Active.Import.Register", None, 1000.5, "Wh"],
                ["Current.Import", "L1-N", -3, None],
                ["SoC", None, 1e300, "Percent"],
            ],
        },
        {"transaction_id": None, "ts": None, "samples": many},  # more samples than cached
        {"transaction_id": "43", "ts": "garbage", "samples": []},  # no rows at all
    ]
    batch = rows.Batch()
    for i, fields in enumerate(events):
        event = {"type": ev.METER, "cp": cp, "at": 0, "connector": i + 1, **fields}
        rows.add(batch, f"{MS}-{i}", event, "3")  # type: ignore[arg-type]
    await writer.write(pool, batch)
    found = await _stored(pool, "meter_values", cp)
    assert len(found) == 3 + 300
    first = [r for r in found if r["stream_id"] == f"3:{MS}-0"]
    assert [(r["seq"], r["measurand"], r["phase"], r["value"], r["unit"]) for r in first] == [
        (0, "Energy.Active.Import.Register", None, 1000.5, "Wh"),
        (1, "Current.Import", "L1-N", -3.0, None),
        (2, "SoC", None, 1e300, "Percent"),
    ]
    assert {(r["received_at"], r["connector_id"], r["transaction_id"]) for r in first} == {
        (AT, 1, "42")
    }
    assert {r["ts"] for r in first} == {datetime(2025, 12, 31, 23, 0, 1, tzinfo=UTC)}
    second = sorted((r for r in found if r["stream_id"] == f"3:{MS}-1"), key=lambda r: r["seq"])
    assert [(r["seq"], r["phase"], r["value"]) for r in second] == [
        (i, f"L{i % 3 + 1}", float(i)) for i in range(300)
    ]
    assert {(r["connector_id"], r["transaction_id"], r["ts"]) for r in second} == {(2, None, None)}


@pytest.mark.parametrize(
    "fields",
    [
        {"connector": "1"},
        {"connector": None},
        {"connector": 2**31},
        {"cp": 7},
        {"cp": "NUL\x00"},
        {"transaction_id": 7},
        {"samples": [["Power.Active.Import", None, 1.0, "W"], ["SoC", None, "80", None]]},
        {"samples": [["Power.Active.Import", None, None, "W"]]},
        {"samples": [[None, None, 1.0, "W"]]},
        {"samples": [["SoC", None, 1.0]]},
        {"samples": [["SoC", ["L1"], 1.0, None]]},
        {"samples": 5},
    ],
)
def test_a_meter_event_with_a_field_of_the_wrong_type_adds_no_row(fields: dict[str, Any]) -> None:
    event = {
        "type": ev.METER,
        "cp": "CP",
        "at": 0,
        "connector": 1,
        "transaction_id": "1",
        "ts": None,
        "samples": [["Power.Active.Import", None, 1.0, "W"]],
        **fields,
    }
    batch = rows.Batch()
    with pytest.raises((TypeError, ValueError)):
        rows.add(batch, f"{MS}-0", event)  # type: ignore[arg-type]
    assert batch.rows == 0


@pytest.mark.parametrize(
    "fields", [{"ocpp_status": None}, {"status": 3}, {"error_code": {}}, {"connector": 1.5j}]
)
def test_a_status_event_with_a_field_of_the_wrong_type_adds_no_row(
    fields: dict[str, Any],
) -> None:
    event = {
        "type": ev.STATUS,
        "cp": "CP",
        "at": 0,
        "connector": 1,
        "ocpp_status": "Available",
        "status": "AVAILABLE",
        "ts": None,
        **fields,
    }
    batch = rows.Batch()
    with pytest.raises((TypeError, ValueError)):
        rows.add(batch, f"{MS}-0", event)  # type: ignore[arg-type]
    assert batch.rows == 0


async def test_entries_of_the_wrong_types_are_set_aside_and_the_rest_of_the_batch_lands(
    settings: Settings, rds: redis.Redis, pool: asyncpg.Pool, uid: str
) -> None:
    s = settings.model_copy(update={"redis_prefix": f"{settings.redis_prefix}w{uid}"})
    recorder = Recorder(s, rds, pool)
    await recorder.ensure_groups()
    stream = recorder.streams[0]
    cp = f"WRONG-{uid}"
    now = time.time()
    good = ev.meter(
        cp, now, connector=1, transaction_id="1", ts=None, samples=[("SoC", None, 1, "%")]
    )
    await rds.xadd(stream, ev.encode(good))  # type: ignore[arg-type]
    bad_sample = {**good, "samples": [["SoC", None, 2, "%"], ["SoC", None, "x", "%"]]}
    await rds.xadd(stream, ev.encode(bad_sample))  # type: ignore[arg-type]
    bad_connector = {
        **ev.status(cp, now, connector=1, ocpp_status="A", status="B", previous="B", ts=""),
        "connector": "1",
    }
    await rds.xadd(stream, ev.encode(bad_connector))  # type: ignore[arg-type]
    await rds.xadd(stream, ev.encode({**good, "samples": [["SoC", None, 3, "%"]]}))  # type: ignore[arg-type]
    # a unit with a NUL character, as a 2.0.1 charger's free-text unitOfMeasure may carry
    nul_unit = {**good, "samples": [["Energy.Active.Import.Register", None, 4, "Wh\x00"]]}
    await rds.xadd(stream, ev.encode(nul_unit))  # type: ignore[arg-type]
    await recorder._drain(stream, await recorder._read(stream))
    found = await _stored(pool, "meter_values", cp)
    assert [r["value"] for r in found] == [1.0, 3.0]
    assert await _stored(pool, "status_events", cp) == []
    assert (await rds.xpending(stream, RECORDER_GROUP))["pending"] == 0
    # acknowledged to a charger, so kept for an operator rather than dropped
    aside = [ev.decode(fields) for _, fields in await rds.xrange(recorder.keys.refused(stream))]
    assert aside == [
        orjson.loads(ev.encode(e)[ev.FIELD]) for e in (bad_sample, bad_connector, nul_unit)
    ]  # type: ignore[arg-type]


async def test_encodings_stay_right_when_the_caches_start_again(
    pool: asyncpg.Pool, uid: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rows, "_CACHED", 3)
    cp = f"CACHE-{uid}"
    batch = rows.Batch()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(20):
        ts = (start + timedelta(seconds=i)).astimezone(timezone(timedelta(hours=i % 3)))
        event = ev.meter(
            cp,
            0,
            connector=i,
            transaction_id=f"tx{i}",
            ts=ts.isoformat(),
            samples=[(f"m{i}", f"p{i}", i, f"u{i}")],
        )
        rows.add(batch, f"{MS + i}-0", event)
    await writer.write(pool, batch)
    found = await _stored(pool, "meter_values", cp)
    assert [
        (r["received_at"], r["connector_id"], r["transaction_id"], r["ts"], r["measurand"])
        for r in found
    ] == [
        (AT + timedelta(milliseconds=i), i, f"tx{i}", start + timedelta(seconds=i), f"m{i}")
        for i in range(20)
    ]
    assert [(r["phase"], r["value"], r["unit"]) for r in found] == [
        (f"p{i}", float(i), f"u{i}") for i in range(20)
    ]
