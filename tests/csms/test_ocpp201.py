"""OCPP 2.0.1 through a real node: EVSE statuses, transactions named by the charger."""

from __future__ import annotations

import asyncio
import time
from typing import Any

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


async def _booted(charger: Connect, cp: str) -> Any:
    c = await charger(cp, "ocpp2.0.1")
    boot = await c.call(
        "BootNotification",
        {"chargingStation": {"model": "M", "vendorName": "V"}, "reason": "PowerUp"},
    )
    assert boot[2]["status"] == "Accepted"
    return c


async def test_custom_data_nested_past_what_can_be_stored_fails_that_message_alone(
    charger: Connect, uid: str
) -> None:
    """customData takes any properties; 300 levels parse but cannot be written to the stream.
    The message is refused, and the connection and the writer go on."""
    c = await _booted(charger, f"DEEP-{uid}")
    deep = "[" * 300 + "1" + "]" * 300
    frame = (
        f'[2,"d1","SecurityEventNotification",{{"type":"x","timestamp":"{TS}",'
        f'"customData":{{"vendorId":"v","deep":{deep}}}}}]'
    )
    refused = await asyncio.wait_for(c.send_raw(frame, "SecurityEventNotification"), 10)
    assert refused[0] == 4 and refused[1] == "d1"
    assert (await asyncio.wait_for(c.call("Heartbeat", {}), 10))[0] == 3


async def test_a_multiplier_past_any_meter_is_no_reading_and_costs_nothing(
    charger: Connect, rds: redis.Redis, keys: Keys, uid: str
) -> None:
    """10^3000000 computed exactly would hold every charger's loop for seconds."""
    cp = f"MULT-{uid}"
    c = await _booted(charger, cp)
    absurd = [
        {"value": 5, "unitOfMeasure": {"unit": "W*10^3000000"}, "measurand": "Power.Active.Import"},
        {"value": 5, "unitOfMeasure": {"unit": "Wh", "multiplier": 400}},
        {"value": 5, "unitOfMeasure": {"unit": "Wh*10^x"}},
        {"value": 7, "unitOfMeasure": {"unit": "kWh"}},
    ]
    payload = {"evseId": 1, "meterValue": [{"timestamp": TS, "sampledValue": absurd}]}
    started = time.monotonic()
    assert (await c.call("MeterValues", payload))[0] == 3
    assert time.monotonic() - started < 1
    stream = await rds.xrange(keys.stream_for(cp))
    [meter] = [
        e for e in (ev.decode(f) for _, f in stream) if e["cp"] == cp and e["type"] == ev.METER
    ]
    assert [s[2] for s in meter["samples"]] == [7000.0]


async def test_an_evse_id_written_as_a_float_is_refused(charger: Connect, uid: str) -> None:
    """JSON's 1e23 or 1.0 passes the schema's "integer"; it names no EVSE either way."""
    c = await _booted(charger, f"FLOAT-{uid}")
    for evse in ("1e23", "1.0"):
        frame = (
            f'[2,"f{evse}","StatusNotification",{{"timestamp":"{TS}",'
            f'"connectorStatus":"Available","evseId":{evse},"connectorId":1}}]'
        )
        refused = await c.send_raw(frame, "StatusNotification")
        assert refused[:3] == [4, f"f{evse}", "PropertyConstraintViolation"]
