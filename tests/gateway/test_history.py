"""History from PostgreSQL: meter values and sessions in a window, a page at a time, and only
since the charger became the partner's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import redis.asyncio as redis

from gateway import cursors
from shared import registry
from shared.redis_keys import Keys
from tests.gateway.support import Gateway, MakeCharger, MakePartner, Partner, assert_error_body

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


async def _meter_rows(pool: asyncpg.Pool, cp: str, start: datetime, count: int) -> None:
    await pool.executemany(
        "INSERT INTO meter_values (stream_id, seq, received_at, charger_id, connector_id,"
        " transaction_id, ts, measurand, phase, value, unit)"
        " VALUES ($1, $2, $3, $4, 1, '9', $3, $5, NULL, $6, 'Wh')",
        [
            (
                f"{int((start + timedelta(minutes=i)).timestamp() * 1000)}-0",
                seq,
                start + timedelta(minutes=i),
                cp,
                measurand,
                float(1000 * i + seq),
            )
            for i in range(count)
            for seq, measurand in enumerate(
                ("Energy.Active.Import.Register", "Power.Active.Import")
            )
        ],
    )


async def _assigned_at(pool: asyncpg.Pool, cp: str, when: datetime) -> None:
    await pool.execute("UPDATE chargers SET assigned_at = $2 WHERE id = $1", cp, when)


async def test_meter_values_in_a_window_page_by_page(
    gw: Gateway, partner: Partner, charger: MakeCharger, pool: asyncpg.Pool
) -> None:
    cp = await charger(partner)
    await _assigned_at(pool, cp, T0 - timedelta(days=1))
    await _meter_rows(pool, cp, T0, 5)
    path = f"/api/v1/chargers/{cp}/meter-values"
    window = {"from": T0.isoformat(), "to": (T0 + timedelta(minutes=4)).isoformat()}

    seen = []
    cursor = None
    pages = 0
    while True:
        params = {**window, "limit": "3", **({"cursor": cursor} if cursor else {})}
        resp = await gw.client.get(path, params=params, headers=partner.headers)
        assert resp.status == 200, await resp.text()
        body = await resp.json()
        pages += 1
        seen += body["meterValues"]
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert pages == 3 and len(seen) == 8  # 4 minutes x 2 measurands; `to` is exclusive
    assert [v["value"] for v in seen] == [0, 1, 1000, 1001, 2000, 2001, 3000, 3001]
    assert seen[0] == {
        "receivedAt": "2026-03-01T10:00:00.000Z",
        "timestamp": "2026-03-01T10:00:00.000Z",
        "connectorId": 1,
        "transactionId": "9",
        "measurand": "Energy.Active.Import.Register",
        "phase": None,
        "value": 0.0,
        "unit": "Wh",
    }
    resp = await gw.client.get(
        path, params={**window, "measurand": "Power.Active.Import"}, headers=partner.headers
    )
    assert {v["measurand"] for v in (await resp.json())["meterValues"]} == {"Power.Active.Import"}

    for params in (
        {"from": "yesterday"},
        {"from": "2026-03-01T10:00:00"},  # no offset
        {"from": T0.isoformat(), "to": T0.isoformat()},
        {"limit": "0"},
        {"limit": "1001"},
        {"cursor": "garbage!"},
        {"cursor": "WzFd"},  # valid base64 JSON, wrong shape
        # times no window can be drawn around, or that have no UTC time
        {"to": "0001-01-01T00:00:00Z"},
        {"from": "0001-01-01T00:00:00+14:00"},
        {"to": "9999-12-31T23:59:59-14:00"},
        # cursors this API never hands out: a seq past its int column, a time with no UTC time
        {"cursor": cursors.encode("2026-03-01T10:00:00+00:00", "1-0", 3_000_000_000)},
        {"cursor": cursors.encode("0001-01-01T00:00:00+14:00", "1-0", 1)},
    ):
        resp = await gw.client.get(path, params=params, headers=partner.headers)
        assert resp.status == 400, params
        assert_error_body(await resp.json(), 400, "Bad Request", path)


async def test_sessions_newest_first_with_energy(
    gw: Gateway, partner: Partner, charger: MakeCharger, pool: asyncpg.Pool
) -> None:
    cp = await charger(partner)
    await _assigned_at(pool, cp, T0 - timedelta(days=1))
    await pool.executemany(
        "INSERT INTO transactions (charger_id, transaction_id, connector_id, id_tag, started_at,"
        " stopped_at, meter_start_wh, meter_stop_wh, stop_reason) VALUES"
        " ($1, $2, 1, 'TAG', $3, $4, $5, $6, $7)",
        [
            (cp, "1", T0, T0 + timedelta(hours=1), 100.0, 5100.0, "Remote"),
            (cp, "2", T0 + timedelta(hours=2), None, 5100.0, None, None),
        ],
    )
    path = f"/api/v1/chargers/{cp}/sessions"
    params = {
        "from": (T0 - timedelta(hours=1)).isoformat(),
        "to": (T0 + timedelta(days=1)).isoformat(),
    }
    resp = await gw.client.get(path, params={**params, "limit": "1"}, headers=partner.headers)
    first = await resp.json()
    assert [s["transactionId"] for s in first["sessions"]] == ["2"]
    assert first["sessions"][0]["active"] is True and first["sessions"][0]["energyWh"] is None
    resp = await gw.client.get(
        path,
        params={**params, "limit": "1", "cursor": first["nextCursor"]},
        headers=partner.headers,
    )
    second = await resp.json()
    assert second["nextCursor"] is None
    [done] = second["sessions"]
    assert done["transactionId"] == "1" and done["active"] is False
    assert done["energyWh"] == 5000.0 and done["stopReason"] == "Remote"
    assert done["startedAt"] == "2026-03-01T10:00:00.000Z"


async def test_history_before_the_assignment_is_not_the_new_partners(
    gw: Gateway,
    partner: Partner,
    make_partner: MakePartner,
    charger: MakeCharger,
    pool: asyncpg.Pool,
    rds: redis.Redis,
    keys: Keys,
) -> None:
    before = await make_partner()
    cp = await charger(before)
    await _assigned_at(pool, cp, datetime.now(UTC) - timedelta(days=1))
    await _meter_rows(pool, cp, datetime.now(UTC) - timedelta(minutes=30), 3)
    window = {"from": (datetime.now(UTC) - timedelta(hours=1)).isoformat()}
    path = f"/api/v1/chargers/{cp}/meter-values"
    resp = await gw.client.get(path, params=window, headers=before.headers)
    assert len((await resp.json())["meterValues"]) == 6

    await registry.assign_charger(pool, rds, keys, cp, partner.id)
    resp = await gw.client.get(path, params=window, headers=partner.headers)
    assert resp.status == 200 and (await resp.json())["meterValues"] == []
    resp = await gw.client.get(path, params=window, headers=before.headers)
    assert resp.status == 404
