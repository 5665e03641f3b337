"""Which local lists a change marks stale, in the change's own transaction, and how the sweep
claims them: on a real PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import redis.asyncio as redis

from shared import registry
from shared.redis_keys import Keys
from shared.registry import local_lists as ll

NOW = timedelta(0)
LONG = timedelta(hours=1)


async def _held(pool: asyncpg.Pool, *chargers: str) -> None:
    """Each charger holds a list, in step."""
    for cp in chargers:
        await pool.execute(
            "INSERT INTO local_lists (charger_id, version, entries) VALUES ($1, 1, '{}')", cp
        )


async def _stale(pool: asyncpg.Pool, *chargers: str) -> set[str]:
    rows = await pool.fetch(
        "SELECT charger_id FROM local_lists WHERE charger_id = ANY($1::text[])"
        " AND stale_since IS NOT NULL",
        list(chargers),
    )
    return {r["charger_id"] for r in rows}


async def _in_step(pool: asyncpg.Pool, *chargers: str) -> None:
    await pool.execute(
        "UPDATE local_lists SET stale_since = NULL, syncing = false, sync_after = NULL"
        " WHERE charger_id = ANY($1::text[])",
        list(chargers),
    )


async def test_a_change_marks_the_lists_that_carry_or_should_carry_the_token(
    pool: asyncpg.Pool, rds: redis.Redis, keys: Keys, uid: str
) -> None:
    a, b = f"lma-{uid}", f"lmb-{uid}"
    for partner in (a, b):
        await registry.create_partner(pool, partner, partner_id=partner)
    ca, cb, free = f"LM-A-{uid}", f"LM-B-{uid}", f"LM-F-{uid}"
    await registry.register_charger(pool, rds, keys, ca, partner_id=a)
    await registry.register_charger(pool, rds, keys, cb, partner_id=b)
    await registry.register_charger(pool, rds, keys, free)
    everyone = (ca, cb, free)
    await _held(pool, *everyone)

    # a partner's token: that partner's chargers only
    await registry.create_token(pool, rds, keys, f"LMT-{uid}", status="Accepted", partner_id=a)
    assert await _stale(pool, *everyone) == {ca}
    await _in_step(pool, *everyone)
    await registry.update_token(pool, rds, keys, f"LMT-{uid}", {"status": "Blocked"})
    assert await _stale(pool, *everyone) == {ca}
    await _in_step(pool, *everyone)
    # moved to another partner: both partners' lists
    await registry.update_token(pool, rds, keys, f"LMT-{uid}", {"partner_id": b})
    assert await _stale(pool, *everyone) == {ca, cb}
    await _in_step(pool, *everyone)
    await registry.delete_token(pool, rds, keys, f"LMT-{uid}")
    assert await _stale(pool, *everyone) == {cb}
    await _in_step(pool, *everyone)

    # the operator's own token: every list
    await registry.create_token(pool, rds, keys, f"LMO-{uid}", status="Accepted")
    assert await _stale(pool, *everyone) == set(everyone)
    await _in_step(pool, *everyone)
    await registry.delete_token(pool, rds, keys, f"LMO-{uid}")
    await _in_step(pool, *everyone)

    # a charger given to a partner gets its tokens; a deleted partner's chargers lose them
    await registry.assign_charger(pool, rds, keys, free, b)
    assert await _stale(pool, *everyone) == {free}
    await _in_step(pool, *everyone)
    await registry.delete_partner(pool, rds, keys, a)
    assert await _stale(pool, *everyone) == {ca}


async def test_the_sweep_waits_out_a_burst_and_claims_a_list_once(
    pool: asyncpg.Pool, rds: redis.Redis, keys: Keys, uid: str
) -> None:
    cp = f"LMC-{uid}"
    await registry.create_partner(pool, f"lmc-{uid}", partner_id=f"lmc-{uid}")
    await registry.register_charger(pool, rds, keys, cp, partner_id=f"lmc-{uid}")
    await _held(pool, cp)
    await registry.create_token(
        pool, rds, keys, f"LMC-{uid}", status="Accepted", partner_id=f"lmc-{uid}"
    )

    assert cp not in await ll.claim_stale(pool, 10_000, LONG, LONG)  # still in its burst
    assert cp in await ll.claim_stale(pool, 10_000, NOW, LONG)
    assert cp not in await ll.claim_stale(pool, 10_000, NOW, LONG)  # claimed: not twice
    # a change while it syncs marks it again: the sync in flight may have missed it
    await registry.update_token(pool, rds, keys, f"LMC-{uid}", {"status": "Blocked"})
    assert await _stale(pool, cp) == {cp}
    await ll.synced(pool, cp)
    assert await _stale(pool, cp) == {cp}
    assert cp in await ll.claim_stale(pool, 10_000, NOW, LONG)
    # a claim whose gateway died is taken again once it lapses
    await pool.execute("UPDATE local_lists SET sync_after = now() WHERE charger_id = $1", cp)
    assert cp in await ll.claim_stale(pool, 10_000, NOW, LONG)
    await ll.synced(pool, cp)
    assert cp not in await ll.claim_stale(pool, 10_000, NOW, LONG)
