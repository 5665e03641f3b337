"""OCPP 2.0.1 through a real node: EVSE statuses, transactions named by the charger."""

from __future__ import annotations

import redis.asyncio as redis

from shared import events as ev
from shared.redis_keys import F, Keys
from tests.csms.conftest import Connect

TS = "2026-01-01T00:00:00Z"


def _tx_event(
    kind: str, tx: str, seq: int, state: str | None = None, wh: float | None = None
) -> dict:
    info: dict = {"transactionId": tx}
    if state:
        info["chargingState"] = state
    event: dict = {
        "eventType": kind,
        "timestamp": TS,
        "triggerReason": "RemoteStart",
        "seqNo": seq,
        "transactionInfo": info,
        "evse": {"id": 1, "connectorId": 1},
    }
    if wh is not None:
        event["meterValue"] = [
            {
                "timestamp": TS,
                "sampledValue": [
                    {
                        "value": wh,
                        "measurand": "Energy.Active.Import.Register",
                        "unitOfMeasure": {"unit": "Wh"},
                    }
                ],
            }
        ]
    return event


async def _tx_events(rds: redis.Redis, keys: Keys, cp: str) -> list[dict]:
    found = [ev.decode(f) for _, f in await rds.xrange(keys.stream(0))]
    return [e for e in found if e["cp"] == cp and e["type"] in ("tx_start", "tx_stop", "status")]


async def test_occupied_is_blocked_until_energy_flows(
    charger: Connect, rds: redis.Redis, keys: Keys, uid: str
) -> None:
    cp = f"V201-{uid}"
    c = await charger(cp, "ocpp2.0.1")
    boot = await c.call(
        "BootNotification",
        {"chargingStation": {"model": "M", "vendorName": "V"}, "reason": "PowerUp"},
    )
    assert boot[2]["status"] == "Accepted"
    await c.call(
        "StatusNotification",
        {"timestamp": TS, "connectorStatus": "Occupied", "evseId": 1, "connectorId": 1},
    )
    await c.call("TransactionEvent", _tx_event("Started", "tx-1", 0, "EVConnected", 100))
    await c.call("TransactionEvent", _tx_event("Updated", "tx-1", 1, "Charging", 500))
    state = await rds.hgetall(keys.charger(cp))
    assert state[F.TRANSACTION + "1"] == "tx-1" and state[F.CHARGING_STATE + "1"] == "Charging"
    await c.call("TransactionEvent", _tx_event("Ended", "tx-1", 2, None, 900))
    events = await _tx_events(rds, keys, cp)
    statuses = [e["status"] for e in events if e["type"] == "status"]
    assert statuses == ["BLOCKED", "CHARGING", "BLOCKED"]
    start = next(e for e in events if e["type"] == "tx_start")
    stop = next(e for e in events if e["type"] == "tx_stop")
    assert start["meter_start_wh"] == 100 and stop["meter_stop_wh"] == 900


async def test_a_start_without_a_reading_takes_the_first_reading(
    charger: Connect, rds: redis.Redis, keys: Keys, uid: str
) -> None:
    cp = f"V201B-{uid}"
    c = await charger(cp, "ocpp2.0.1")
    await c.call("TransactionEvent", _tx_event("Started", "tx-2", 0, "Charging"))
    await c.call("TransactionEvent", _tx_event("Updated", "tx-2", 1, "Charging", 250))
    await c.call("TransactionEvent", _tx_event("Updated", "tx-2", 2, "Charging", 300))
    starts = [
        e["meter_start_wh"] for e in await _tx_events(rds, keys, cp) if e["type"] == "tx_start"
    ]
    assert starts == [None, 250]
