"""Local lists kept in step with the token store: a token blocked, added or deleted reaches the
chargers holding a list as a differential update, without an operator sending it; a charger
offline gets it once back, and one that lost its list gets all of it."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
import redis.asyncio as redis
from prometheus_client import REGISTRY

from csms.server import CsmsApp
from gateway.local_list_sync import ACTOR, OFFLINE_RETRY, ListSync
from gateway.state import DISPATCH
from shared import registry
from shared.redis_keys import F, Keys
from tests.csms.conftest import open_booted, until
from tests.gateway.support import (
    LOCAL_LIST,
    Gateway,
    MakeCharger,
    MakeGateway,
    MakePartner,
    admin_headers,
    answer_local_list,
    list_entries16,
    push_local_list,
)


async def _held(pool: asyncpg.Pool, cp: str) -> tuple[int, bool]:
    row = await pool.fetchrow("SELECT version, syncing FROM local_lists WHERE charger_id = $1", cp)
    assert row is not None
    return row["version"], row["syncing"]


async def test_a_blocked_token_and_a_deleted_partner_reach_the_chargers_holding_a_list(
    node: CsmsApp,
    make_gateway: MakeGateway,
    make_partner: MakePartner,
    charger: MakeCharger,
    pool: asyncpg.Pool,
    rds: redis.Redis,
    keys: Keys,
    uid: str,
) -> None:
    gw = await make_gateway(local_list_sync_seconds=0.1)
    mine = await make_partner()
    cp = await charger(mine)
    card = await registry.create_token(
        pool, rds, keys, f"S{uid}"[:20], status="Accepted", partner_id=mine.id
    )
    raw = await open_booted(node, cp, "ocpp1.6")
    try:
        await push_local_list(gw, raw, cp)

        await registry.update_token(pool, rds, keys, card.id, {"status": "Blocked"})
        payload = await asyncio.wait_for(answer_local_list(raw), 10)
        assert (payload["listVersion"], payload["updateType"]) == (2, "Differential")
        assert list_entries16(payload) == {card.id: {"status": "Blocked"}}
        await until(lambda: _now(pool, cp, (2, False)))

        # the partner goes, and its drivers' tokens with it
        await registry.delete_partner(pool, rds, keys, mine.id)
        payload = await asyncio.wait_for(answer_local_list(raw), 10)
        assert (payload["listVersion"], payload["updateType"]) == (3, "Differential")
        assert list_entries16(payload) == {card.id: None}  # removed
        await until(lambda: _now(pool, cp, (3, False)))
    finally:
        await raw.ws.close()
    actors = await pool.fetch(
        "SELECT actor FROM partner_commands WHERE charger_id = $1 AND action = 'SendLocalList'"
        " ORDER BY created_at",
        cp,
    )
    assert [a["actor"] for a in actors] == ["admin:ops", ACTOR, ACTOR]


async def _now(pool: asyncpg.Pool, cp: str, expected: tuple[int, bool]) -> bool:
    return await _held(pool, cp) == expected


async def test_an_offline_charger_is_synced_once_back_and_one_that_lost_its_list_gets_all(
    node: CsmsApp,
    gw: Gateway,
    make_partner: MakePartner,
    charger: MakeCharger,
    pool: asyncpg.Pool,
    rds: redis.Redis,
    keys: Keys,
    uid: str,
) -> None:
    sync = ListSync(pool, rds, keys, gw.app[DISPATCH], every=0)  # swept when the test says
    mine, theirs = await make_partner(), await make_partner()
    cp = await charger(mine)
    raw = await open_booted(node, cp, "ocpp1.6")
    await push_local_list(gw, raw, cp)
    await raw.ws.close()
    await until(lambda: _offline(rds, keys, cp))

    added = await registry.create_token(
        pool, rds, keys, f"A{uid}"[:20], status="Accepted", partner_id=mine.id
    )
    await sync.sweep()  # offline: nothing sent, the list stays claimed, looked at again soon
    assert await _held(pool, cp) == (1, True)
    wait = await pool.fetchval(
        "SELECT sync_after - now() FROM local_lists WHERE charger_id = $1", cp
    )
    assert timedelta(seconds=5) < wait <= OFFLINE_RETRY
    shown = await gw.client.get(LOCAL_LIST.format(cp), headers=admin_headers())
    assert (await shown.json())["pending"] is True
    assert REGISTRY.get_sample_value("evcs_gateway_local_lists_pending") >= 1

    raw = await open_booted(node, cp, "ocpp1.6")
    try:
        await sync.sweep()  # its claim has not lapsed yet
        assert await _held(pool, cp) == (1, True)
        await pool.execute("UPDATE local_lists SET sync_after = now() WHERE charger_id = $1", cp)
        sweep = asyncio.ensure_future(sync.sweep())
        payload = await answer_local_list(raw)
        await sweep
        assert (payload["listVersion"], payload["updateType"]) == (2, "Differential")
        assert list_entries16(payload) == {added.id: {"status": "Accepted"}}
        assert await _held(pool, cp) == (2, False)
        shown = await gw.client.get(LOCAL_LIST.format(cp), headers=admin_headers())
        assert (await shown.json())["pending"] is False

        # another partner's token is not this charger's business: its list stays in step
        await registry.create_token(
            pool, rds, keys, f"B{uid}"[:20], status="Accepted", partner_id=theirs.id
        )
        stale = await pool.fetchval("SELECT stale_since FROM local_lists WHERE charger_id = $1", cp)
        assert stale is None

        # a charger that lost its list answers VersionMismatch: it then gets all of it
        mismatched = _answered("VersionMismatch")
        await registry.update_token(pool, rds, keys, added.id, {"status": "Blocked"})
        sweep = asyncio.ensure_future(sync.sweep())
        payload = await answer_local_list(raw, "VersionMismatch")
        assert payload["updateType"] == "Differential"
        payload = await answer_local_list(raw)
        await sweep
        assert (payload["listVersion"], payload["updateType"]) == (3, "Full")
        assert list_entries16(payload)[added.id] == {"status": "Blocked"}
        assert await _held(pool, cp) == (3, False)
        assert _answered("VersionMismatch") == mismatched + 1

        # a change the list cannot carry (over 20 characters for 1.6) sends nothing
        await registry.create_token(
            pool, rds, keys, f"LONG-{uid}-" + "X" * 20, status="Accepted", partner_id=mine.id
        )
        await sync.sweep()
        assert await _held(pool, cp) == (3, False)
        sent = await pool.fetchval(
            "SELECT count(*) FROM partner_commands WHERE charger_id = $1"
            " AND action = 'SendLocalList'",
            cp,
        )
        assert sent == 4  # the first, the Differential once back, the one refused, the Full
    finally:
        await raw.ws.close()


def _answered(status: str) -> float:
    """Updates the sync has sent that chargers answered `status`, in this process."""
    found = REGISTRY.get_sample_value("evcs_gateway_local_list_updates_total", {"answer": status})
    return found or 0.0


async def _offline(rds: redis.Redis, keys: Keys, cp: str) -> bool:
    return await rds.hget(keys.charger(cp), F.ONLINE) != "1"
