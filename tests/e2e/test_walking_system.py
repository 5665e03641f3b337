"""End to end: simulated chargers -> csms -> Redis -> gateway and recorder -> PostgreSQL, on one
Redis server and on a Redis Cluster (the `topology` parameter of every test)."""

from __future__ import annotations

import asyncpg
import pytest

from tests.e2e.conftest import System, connect_sim, plug_in


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1"])
async def test_partner_switches_a_charger_on_and_off(
    system: System, pool: asyncpg.Pool, uid: str, protocol: str
) -> None:
    partner = f"pa{uid}"
    key = system.keys[partner]
    cp = f"E2E-{protocol[-3:]}-{uid}"
    await plug_in(system, pool, cp, protocol, partner)

    async def status_is(expected: str) -> bool:
        code, body = await system.get(f"/chargers/{cp}/status", key)
        return code == 200 and body["status"] == expected

    await system.eventually(lambda: status_is("AVAILABLE"))
    code, body = await system.get(f"/chargers/{cp}/status", key)
    assert body["online"] is True and body["protocol"] == protocol
    assert [c["status"] for c in body["connectors"]] == ["AVAILABLE"]

    code, body = await system.post(f"/chargers/{cp}/control", {"action": "on"}, key)
    assert code == 200, body
    assert body["status"] == "Accepted"
    await system.eventually(lambda: status_is("CHARGING"))

    # the meter rises while it charges
    _, first = await system.get(f"/chargers/{cp}/status", key)

    async def meter_rose() -> bool:
        _, now = await system.get(f"/chargers/{cp}/status", key)
        return (now["meterKwh"] or 0) > (first["meterKwh"] or 0)

    await system.eventually(meter_rose)

    code, body = await system.post(f"/chargers/{cp}/control", {"action": "off"}, key)
    assert code == 200 and body["status"] == "Accepted", body
    await system.eventually(lambda: status_is("AVAILABLE"))

    # the recorder wrote the history to PostgreSQL
    async def recorded() -> bool:
        tx = await pool.fetchrow(
            "SELECT * FROM transactions WHERE charger_id = $1 AND stopped_at IS NOT NULL", cp
        )
        return tx is not None

    await system.eventually(recorded)
    statuses = {
        r["status"]
        for r in await pool.fetch("SELECT status FROM status_events WHERE charger_id = $1", cp)
    }
    assert {"AVAILABLE", "CHARGING"} <= statuses
    assert await pool.fetchval("SELECT count(*) FROM meter_values WHERE charger_id = $1", cp) > 0
    tx = await pool.fetchrow("SELECT * FROM transactions WHERE charger_id = $1", cp)
    assert tx["energy_wh"] > 0

    async def both_commands_recorded() -> bool:
        rows = await pool.fetch("SELECT outcome FROM commands WHERE charger_id = $1", cp)
        return len(rows) >= 2

    await system.eventually(both_commands_recorded)
    commands = await pool.fetch("SELECT outcome FROM commands WHERE charger_id = $1", cp)
    assert sorted(r["outcome"] for r in commands) == ["ACCEPTED", "ACCEPTED"]


async def test_keys_and_ownership(system: System, pool: asyncpg.Pool, uid: str) -> None:
    mine = f"MINE-{uid}"
    theirs = f"THEIRS-{uid}"
    await plug_in(system, pool, mine, "ocpp1.6", f"pa{uid}")
    await plug_in(system, pool, theirs, "ocpp1.6", f"pb{uid}")
    key_a = system.keys[f"pa{uid}"]

    code, body = await system.get(f"/chargers/{mine}/status")
    assert code == 401 and body["statusCode"] == 401

    code, other = await system.get(f"/chargers/{theirs}/status", key_a)
    code2, unknown = await system.get(f"/chargers/NOPE-{uid}/status", key_a)
    assert code == code2 == 404
    assert other["message"].replace(theirs, "X") == unknown["message"].replace(f"NOPE-{uid}", "X")
    assert set(other) >= {"statusCode", "message", "error", "timestamp", "path"}

    code, body = await system.post(f"/chargers/{theirs}/control", {"action": "on"}, key_a)
    assert code == 404
    assert not system.chargers[theirs].received  # the command never reached it

    code, body = await system.get(f"/chargers/batch/status?ids={mine},{theirs}", key_a)
    assert code == 200
    assert [c["chargerId"] for c in body["chargers"]] == [mine]
    assert body["notFound"] == [theirs]


async def test_a_command_reaches_a_charger_held_by_the_other_node(
    system: System, pool: asyncpg.Pool, uid: str
) -> None:
    partner = f"pa{uid}"
    key = system.keys[partner]
    on_a = await plug_in(system, pool, f"NA-{uid}", "ocpp1.6", partner, node=0)
    on_b = await plug_in(system, pool, f"NB-{uid}", "ocpp2.0.1", partner, node=1)
    for charger, node in ((on_a, 0), (on_b, 1)):
        code, body = await system.post(
            f"/chargers/{charger.charger_id}/control", {"action": "on"}, key
        )
        assert code == 200 and body["status"] == "Accepted", body
        assert charger.charger_id in system.nodes[node].node.connections

        async def started(c=charger) -> bool:  # type: ignore[no-untyped-def]
            return c.transaction_id is not None

        await system.eventually(started)

    # the charger moves to the other node (a reconnect through the load balancer): commands follow it
    await on_a.stop()
    moved = await connect_sim(system, on_a.charger_id, "ocpp1.6", node=1)
    code, body = await system.post(f"/chargers/{moved.charger_id}/control", {"action": "on"}, key)
    assert code == 200, body
    assert moved.charger_id in system.nodes[1].node.connections
