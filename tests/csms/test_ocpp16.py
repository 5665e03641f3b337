"""OCPP 1.6J through a real node: answers, state in Redis, events on the stream before the answer."""

from __future__ import annotations

import asyncio

import redis.asyncio as redis

from csms.server import CsmsApp
from shared import events as ev
from shared.redis_keys import F, Keys
from tests.csms.conftest import Connect

TS = "2026-01-01T00:00:00Z"


async def _events(rds: redis.Redis, keys: Keys, charger_id: str) -> list[dict]:
    entries = await rds.xrange(keys.stream(0))
    found = [ev.decode(fields) for _, fields in entries]
    return [e for e in found if e["cp"] == charger_id]


async def test_boot_heartbeat_status_meter(
    charger: Connect, rds: redis.Redis, keys: Keys, uid: str
) -> None:
    cp = f"V16-{uid}"
    c = await charger(cp)
    boot = await c.call("BootNotification", {"chargePointVendor": "ACME", "chargePointModel": "X1"})
    assert boot[0] == 3 and boot[2]["status"] == "Accepted" and boot[2]["interval"] > 0
    hb = await c.call("Heartbeat", {})
    assert hb[0] == 3 and hb[2]["currentTime"].endswith("Z")
    st = await c.call(
        "StatusNotification",
        {"connectorId": 1, "errorCode": "NoError", "status": "Available", "timestamp": TS},
    )
    assert st == [3, st[1], {}]
    mv = await c.call(
        "MeterValues",
        {
            "connectorId": 1,
            "meterValue": [
                {
                    "timestamp": TS,
                    "sampledValue": [
                        {
                            "value": "1.5",
                            "unit": "kWh",
                            "measurand": "Energy.Active.Import.Register",
                        }
                    ],
                }
            ],
        },
    )
    assert mv[0] == 3

    state = await rds.hgetall(keys.charger(cp))
    assert state[F.RAW + "1"] == "Available"
    assert state[F.KWH] == "1.5" and state[F.ONLINE] == "1" and state[F.NODE] == "csms-test"
    assert state[F.VENDOR] == "ACME"
    kinds = [e["type"] for e in await _events(rds, keys, cp)]
    assert kinds == ["connection", "status", "meter"]


async def test_transaction_ids_come_from_the_csms_and_are_recorded(
    charger: Connect, rds: redis.Redis, keys: Keys, uid: str
) -> None:
    cp = f"TX16-{uid}"
    c = await charger(cp)
    start = await c.call(
        "StartTransaction", {"connectorId": 1, "idTag": "TAG", "meterStart": 1000, "timestamp": TS}
    )
    tx = start[2]["transactionId"]
    assert isinstance(tx, int) and start[2]["idTagInfo"]["status"] == "Accepted"
    assert (await rds.hget(keys.charger(cp), F.TRANSACTION + "1")) == str(tx)
    stop = await c.call(
        "StopTransaction", {"transactionId": tx, "meterStop": 4500, "timestamp": TS, "idTag": "TAG"}
    )
    assert stop[0] == 3
    assert (await rds.hget(keys.charger(cp), F.TRANSACTION + "1")) == ""
    events = await _events(rds, keys, cp)
    stop_event = next(e for e in events if e["type"] == "tx_stop")
    assert stop_event["transaction_id"] == str(tx) and stop_event["meter_stop_wh"] == 4500


async def test_second_transaction_gets_a_new_id(charger: Connect, uid: str) -> None:
    c = await charger(f"TXN-{uid}")
    a = await c.call(
        "StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": TS}
    )
    b = await c.call(
        "StartTransaction", {"connectorId": 2, "idTag": "T", "meterStart": 0, "timestamp": TS}
    )
    assert a[2]["transactionId"] != b[2]["transactionId"]


async def test_disconnect_marks_offline(
    csms: CsmsApp, charger: Connect, rds: redis.Redis, keys: Keys, uid: str
) -> None:
    cp = f"OFF-{uid}"
    c = await charger(cp)
    await c.call("Heartbeat", {})
    await c.ws.close()
    for _ in range(100):
        if await rds.hget(keys.charger(cp), F.ONLINE) == "0":
            break
        await asyncio.sleep(0.02)
    assert await rds.hget(keys.charger(cp), F.ONLINE) == "0"
    assert cp not in csms.node.connections


async def test_reconnect_replaces_the_old_connection(
    csms: CsmsApp, charger: Connect, rds: redis.Redis, keys: Keys, uid: str
) -> None:
    cp = f"DUP-{uid}"
    first = await charger(cp)
    await first.call("Heartbeat", {})
    second = await charger(cp)
    await second.call("Heartbeat", {})
    await first.ws.wait_closed()
    await asyncio.sleep(0.05)
    # the old connection's close must not mark the charger offline
    assert await rds.hget(keys.charger(cp), F.ONLINE) == "1"
    assert csms.node.connections[cp] is not None
    assert (await second.call("Heartbeat", {}))[0] == 3


async def test_values_no_charger_could_mean_change_nothing_a_partner_sees(
    charger: Connect, rds: redis.Redis, keys: Keys, uid: str
) -> None:
    cp = f"BAD16-{uid}"
    c = await charger(cp)
    for connector in (-1, 1_000_000_000):
        refused = await c.call(
            "StatusNotification",
            {"connectorId": connector, "errorCode": "NoError", "status": "Available"},
        )
        assert refused[2] == "PropertyConstraintViolation"
    absurd = [{"timestamp": TS, "sampledValue": [{"value": "1e308", "unit": "Wh"}]}]
    assert (await c.call("MeterValues", {"connectorId": 1, "meterValue": absurd}))[0] == 3
    start = await c.call(
        "StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": -7, "timestamp": TS}
    )
    assert start[0] == 3

    state = await rds.hgetall(keys.charger(cp))
    assert not [f for f in state if f.startswith(F.RAW)]  # no connector -1 or 1e9
    assert F.KWH not in state
    found = await _events(rds, keys, cp)
    meter_event = next(e for e in found if e["type"] == "meter")
    assert meter_event["samples"][0][2] == 1e308  # recorded raw, for diagnosis
    assert next(e for e in found if e["type"] == "tx_start")["meter_start_wh"] is None
