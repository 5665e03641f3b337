"""A charger's history for operators: status changes, meter values (raw and averaged per
bucket for charts), sessions and commands, whoever owned the charger, page by page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from tests.gateway.support import Gateway, MakeCharger, MakePartner, admin_headers

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
A = "/api/v1/admin/chargers"


async def _pages(gw: Gateway, path: str, items: str, **params: str) -> list[Any]:
    seen: list[Any] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        resp = await gw.client.get(path, params=query, headers=admin_headers())
        assert resp.status == 200, await resp.text()
        body = await resp.json()
        seen += body[items]
        cursor = body["nextCursor"]
        if cursor is None:
            return seen


async def test_status_changes_newest_first_whoever_owned_the_charger(
    gw: Gateway, make_partner: MakePartner, charger: MakeCharger, pool: asyncpg.Pool
) -> None:
    cp = await charger(await make_partner())
    # before it was assigned, too: a partner would not see these, an operator does
    await pool.execute("UPDATE chargers SET assigned_at = $2 WHERE id = $1", cp, T0)
    await pool.executemany(
        "INSERT INTO status_events (stream_id, received_at, charger_id, connector_id,"
        " ocpp_status, status, error_code, ts) VALUES ($1, $2, $3, 1, $4, $5, 'NoError', $2)",
        [
            (f"{i}-0", T0 + timedelta(minutes=i - 2), cp, ocpp, status)
            for i, (ocpp, status) in enumerate(
                [("Available", "AVAILABLE"), ("Preparing", "BLOCKED"), ("Charging", "CHARGING")]
            )
        ],
    )
    window = {"from": (T0 - timedelta(hours=1)).isoformat(), "to": T0.isoformat()}
    seen = await _pages(gw, f"{A}/{cp}/status-events", "statusEvents", **window, limit="1")
    assert [s["ocppStatus"] for s in seen] == ["Preparing", "Available"]  # `to` is exclusive
    assert seen[0] == {
        "receivedAt": "2026-03-01T09:59:00.000Z",
        "timestamp": "2026-03-01T09:59:00.000Z",
        "connectorId": 1,
        "status": "BLOCKED",
        "ocppStatus": "Preparing",
        "errorCode": "NoError",
    }
    resp = await gw.client.get(f"{A}/NOPE-{cp}/status-events", headers=admin_headers())
    assert resp.status == 404


async def test_meter_values_raw_or_averaged_per_bucket(
    gw: Gateway, charger: MakeCharger, pool: asyncpg.Pool
) -> None:
    cp = await charger(None)
    # one sample a second for two minutes, power rising 1 W a second, on two connectors
    await pool.executemany(
        "INSERT INTO meter_values (stream_id, seq, received_at, charger_id, connector_id,"
        " transaction_id, ts, measurand, phase, value, unit)"
        " VALUES ($1, $2::smallint, $3, $4, $2::int, '9', $3, 'Power.Active.Import', NULL, $5, 'W')",
        [
            (f"{i}-0", connector, T0 + timedelta(seconds=i), cp, float(i))
            for i in range(120)
            for connector in (1, 2)
        ],
    )
    window = {"from": T0.isoformat(), "to": (T0 + timedelta(minutes=2)).isoformat()}
    raw = await _pages(gw, f"{A}/{cp}/meter-values", "meterValues", **window, limit="1000")
    assert len(raw) == 240 and raw[0]["transactionId"] == "9"
    series = await _pages(
        gw, f"{A}/{cp}/meter-values", "meterValues", **window, bucketSeconds="60", limit="3"
    )
    assert [(v["receivedAt"], v["connectorId"], v["value"]) for v in series] == [
        ("2026-03-01T10:00:00.000Z", 1, 29.5),  # the mean of 0..59
        ("2026-03-01T10:00:00.000Z", 2, 29.5),
        ("2026-03-01T10:01:00.000Z", 1, 89.5),
        ("2026-03-01T10:01:00.000Z", 2, 89.5),
    ]
    assert series[0] == {
        "receivedAt": "2026-03-01T10:00:00.000Z",
        "timestamp": None,
        "connectorId": 1,
        "transactionId": None,
        "measurand": "Power.Active.Import",
        "phase": None,
        "value": 29.5,
        "unit": "W",
    }
    resp = await gw.client.get(
        f"{A}/{cp}/meter-values", params={"bucketSeconds": "1"}, headers=admin_headers()
    )
    assert resp.status == 400  # a bucket under 10 s is no chart


async def test_sessions_and_commands_of_a_charger(
    gw: Gateway, make_partner: MakePartner, charger: MakeCharger, pool: asyncpg.Pool
) -> None:
    partner = await make_partner()
    cp = await charger(partner)
    await pool.execute(
        "INSERT INTO transactions (charger_id, transaction_id, connector_id, id_tag, started_at,"
        " meter_start_wh) VALUES ($1, '7', 1, 'TAG', now() - interval '1 minute', 1000)",
        cp,
    )
    [session] = await _pages(gw, f"{A}/{cp}/sessions", "sessions")
    assert session["transactionId"] == "7" and session["active"] is True

    await pool.executemany(
        "INSERT INTO partner_commands (id, partner_id, actor, charger_id, action, request, mode,"
        " created_at, deadline, outcome, response, completed_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, 'sync', $7::timestamptz,"
        " $7::timestamptz + interval '10 seconds', $8, $9, $7::timestamptz)",
        [
            (
                "cmd_000000000000000a",
                partner.id,
                None,
                cp,
                "on",
                {"connector_id": 1},
                T0,
                "ACCEPTED",
                {"status": "Accepted"},
            ),
            (
                "cmd_000000000000000b",
                None,
                "console:alice",
                cp,
                "Reset",
                {"action": "Reset", "payload": {"type": "Soft"}},
                T0 + timedelta(seconds=1),
                "REJECTED",
                {"status": "Rejected"},
            ),
        ],
    )
    commands = await _pages(gw, f"{A}/{cp}/commands", "commands", limit="1")
    assert [(c["commandId"], c["state"]) for c in commands] == [
        ("cmd_000000000000000b", "REJECTED"),
        ("cmd_000000000000000a", "ACCEPTED"),
    ]
    assert commands[0]["actor"] == "console:alice" and commands[0]["partnerId"] is None
    assert commands[0]["request"] == {"action": "Reset", "payload": {"type": "Soft"}}
    assert commands[1]["partnerId"] == partner.id and commands[1]["action"] == "on"
    resp = await gw.client.get(
        f"{A}/{cp}/commands", params={"cursor": "junk"}, headers=admin_headers()
    )
    assert resp.status == 400
