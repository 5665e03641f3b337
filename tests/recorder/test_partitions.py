"""History partitions: daily (UTC) partitions exist ahead of time so rows never land in the
default partition in steady state; a day that did land there moves into its partition when
that is created; partitions past the retention are dropped. A database of their own: the
session's holds history that other tests dated in the past."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import redis.asyncio as redis

from recorder.app import Recorder
from shared import db
from shared import events as ev
from shared.settings import Settings

TABLES = ("status_events", "meter_values")


@pytest.fixture
async def history(server_urls: tuple[str, str]) -> AsyncIterator[asyncpg.Pool]:
    admin_url = server_urls[0]
    name = f"evcs_parts_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
    await db.migrate(url)
    pool = await db.create_pool(url)
    try:
        yield pool
    finally:
        await pool.close()
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


def _today() -> date:
    return datetime.now(UTC).date()


async def _partitions(pool: asyncpg.Pool, table: str) -> set[date]:
    names = await pool.fetch(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = $1::regclass",
        table,
    )
    return {
        datetime.strptime(n["relname"][-8:], "%Y%m%d").date()
        for n in names
        if not n["relname"].endswith("_default")
    }


async def _status_row(pool: asyncpg.Pool, cp: str, at: datetime) -> None:
    await pool.execute(
        "INSERT INTO status_events (stream_id, received_at, charger_id, connector_id,"
        " ocpp_status, status) VALUES ($1, $2, $3, 1, 'Available', 'AVAILABLE')",
        f"{int(at.timestamp() * 1000)}-0",
        at,
        cp,
    )


async def _in_default(pool: asyncpg.Pool, table: str) -> int:
    return int(await pool.fetchval(f"SELECT count(*) FROM {table}_default"))


async def test_partitions_exist_from_yesterday_to_the_days_ahead(history: asyncpg.Pool) -> None:
    today = _today()
    wanted = {today + timedelta(days=d) for d in range(-1, db.PARTITION_DAYS_AHEAD + 1)}
    for table in TABLES:
        assert wanted <= await _partitions(history, table)


async def test_what_the_recorder_writes_now_lands_in_todays_partition(
    history: asyncpg.Pool, settings: Settings, rds: redis.Redis, uid: str
) -> None:
    s = settings.model_copy(update={"redis_prefix": f"{settings.redis_prefix}p{uid}"})
    recorder = Recorder(s, rds, history)
    await recorder.ensure_groups()
    stream = recorder.streams[0]
    event = {
        "type": ev.STATUS,
        "cp": f"PART-{uid}",
        "at": 0,
        "connector": 1,
        "ocpp_status": "Available",
        "status": "AVAILABLE",
        "ts": None,
    }
    await rds.xadd(stream, ev.encode(event))  # type: ignore[arg-type]
    await recorder._drain(stream, await recorder._read(stream))
    where = await history.fetchval(
        "SELECT tableoid::regclass::text FROM status_events WHERE charger_id = $1", f"PART-{uid}"
    )
    assert where == f"status_events_{_today():%Y%m%d}"
    assert await _in_default(history, "status_events") == 0


async def test_a_day_that_landed_in_the_default_partition_moves_into_its_own(
    history: asyncpg.Pool,
) -> None:
    later = datetime.now(UTC) + timedelta(days=6)
    await _status_row(history, "LATE", later)
    assert await _in_default(history, "status_events") == 1
    await history.execute("SELECT evcs_maintain_partitions(6, 0)")
    assert await _in_default(history, "status_events") == 0
    where = await history.fetchval(
        "SELECT tableoid::regclass::text FROM status_events WHERE charger_id = 'LATE'"
    )
    assert where == f"status_events_{later:%Y%m%d}"


async def test_partitions_past_the_retention_are_dropped_and_nothing_newer(
    history: asyncpg.Pool,
) -> None:
    old_day = _today() - timedelta(days=40)
    low = datetime(old_day.year, old_day.month, old_day.day, tzinfo=UTC)
    high = low + timedelta(days=1)
    await history.execute(
        f"CREATE TABLE status_events_{old_day:%Y%m%d} PARTITION OF status_events"
        f" FOR VALUES FROM ('{low.isoformat()}') TO ('{high.isoformat()}')"
    )
    await _status_row(history, "OLD", low + timedelta(hours=1))
    await _status_row(history, "OLDER", low - timedelta(days=3))  # in the default partition
    await _status_row(history, "RECENT", datetime.now(UTC) - timedelta(days=2))
    await history.execute("SELECT evcs_maintain_partitions(2, 30)")
    assert old_day not in await _partitions(history, "status_events")
    left = {r["charger_id"] for r in await history.fetch("SELECT charger_id FROM status_events")}
    assert left == {"RECENT"}
