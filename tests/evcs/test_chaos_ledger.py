"""The soak's ledger: an acknowledged message stays missing until its row is in PostgreSQL, and
"everything acknowledged before a moment" ignores what came after it."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import asyncpg

from evcs.chaos.fleet import MEASURAND
from evcs.chaos.ledger import Ledger


async def _store(pool: asyncpg.Pool, cp: str, seq: int) -> None:
    await pool.execute(
        "INSERT INTO meter_values (stream_id, seq, received_at, charger_id, connector_id,"
        " measurand, value, unit) VALUES ($1, 0, $2, $3, 1, $4, $5, 'Wh')",
        f"0:{time.time_ns()}-0",
        datetime.now(UTC),
        cp,
        MEASURAND,
        float(seq),
    )


async def test_missing_until_stored(pool: asyncpg.Pool, uid: str) -> None:
    cp = f"LEDGER-{uid}"
    ledger = Ledger([cp])
    ledger.acknowledged(cp, 1, time.time())
    between = time.monotonic()
    ledger.acknowledged(cp, 2, time.time())
    assert not await ledger.holds_all(pool, float("inf"))
    assert ledger.missing() == 2

    await _store(pool, cp, 1)
    assert await ledger.holds_all(pool, between)  # only #1 was acknowledged before
    assert not await ledger.holds_all(pool, float("inf"))
    assert ledger.when_acked(cp, 2) is not None

    await _store(pool, cp, 2)
    await _store(pool, cp, 3)  # stored, never acknowledged: nothing to strike off
    assert await ledger.holds_all(pool, float("inf"))
    assert ledger.confirmed == 2
    assert ledger.missing() == 0
