"""Transactions: ids from the csms (1.6) or the charger (2.0.1), energy from meter start/stop
and sampled values, every reading converted to Wh whatever unit the charger used."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest
import redis.asyncio as redis

from csms import meter
from csms.connection import ChargerConnection
from csms.server import CsmsApp
from evcs.chaos.proxy import LinkProxy
from shared import events as ev
from shared.redis_keys import F, Keys
from shared.settings import Settings
from tests.csms.conftest import Connect, StartCsms, open_raw, until

TS = "2026-01-01T00:00:00Z"


async def _events(rds: redis.Redis, keys: Keys, cp: str, kind: str) -> list[dict[str, Any]]:
    entries = [ev.decode(f) for _, f in await rds.xrange(keys.stream(0))]
    return [e for e in entries if e["cp"] == cp and e["type"] == kind]


def _sv16(value: str, unit: str | None, **extra: Any) -> dict[str, Any]:
    sv: dict[str, Any] = {"value": value, **extra}
    if unit is not None:
        sv["unit"] = unit
    return sv


async def test_ocpp16_energy_from_meter_start_stop_and_kwh_samples(
    charger: Connect, rds: redis.Redis, keys: Keys, uid: str
) -> None:
    cp = f"E16-{uid}"
    c = await charger(cp)
    start = await c.call(
        "StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 12_000, "timestamp": TS}
    )
    tx = start[2]["transactionId"]
    await c.call(
        "MeterValues",
        {
            "connectorId": 1,
            "transactionId": tx,
            "meterValue": [
                {
                    "timestamp": TS,
                    "sampledValue": [
                        _sv16("12.5", "kWh"),  # default measurand: the energy register
                        _sv16("7.2", "kW", measurand="Power.Active.Import"),
                        _sv16("0xDEAD", None, format="SignedData"),
                    ],
                }
            ],
        },
    )
    assert await rds.hget(keys.charger(cp), F.KWH) == "12.5"
    sample = (await _events(rds, keys, cp, "meter"))[0]
    assert sample["transaction_id"] == str(tx)
    assert sample["samples"] == [
        ["Energy.Active.Import.Register", None, 12_500.0, "Wh"],
        ["Power.Active.Import", None, 7_200.0, "W"],
    ]
    await c.call(
        "StopTransaction",
        {
            "transactionId": tx,
            "meterStop": 15_500,
            "timestamp": TS,
            "transactionData": [
                {"timestamp": TS, "sampledValue": [_sv16("15.5", "kWh", context="Transaction.End")]}
            ],
        },
    )
    begin = (await _events(rds, keys, cp, "tx_start"))[0]
    end = (await _events(rds, keys, cp, "tx_stop"))[0]
    assert begin["meter_start_wh"] == 12_000 and end["meter_stop_wh"] == 15_500
    assert end["meter_stop_wh"] - begin["meter_start_wh"] == 3_500  # what the recorder bills
    assert await rds.hget(keys.charger(cp), F.KWH) == "15.5"


async def test_ocpp16_a_stop_repeated_after_a_reconnect_is_answered_and_ends_nothing_twice(
    charger: Connect, rds: redis.Redis, keys: Keys, uid: str
) -> None:
    # A charger whose answer was lost with its connection sends its stop again on the next.
    cp = f"RS16-{uid}"
    c = await charger(cp)
    start = await c.call(
        "StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 100, "timestamp": TS}
    )
    tx = start[2]["transactionId"]
    stop = {"transactionId": tx, "meterStop": 900, "timestamp": TS, "idTag": "T"}
    first = await c.call("StopTransaction", stop)
    again = await charger(cp)
    repeat = await again.call("StopTransaction", {**stop, "meterStop": 950})
    assert repeat[0] == 3 and repeat[2] == first[2]  # the same answer, with its idTagInfo
    await again.call("StopTransaction", {**stop, "meterStop": 990})  # and on the same one
    stops = await _events(rds, keys, cp, "tx_stop")
    assert [e["meter_stop_wh"] for e in stops] == [900]
    # a transaction it never started is still recorded, once, and so are its readings
    reading = {"timestamp": TS, "sampledValue": [_sv16("950", "Wh")]}
    unknown = {**stop, "transactionId": 424242, "transactionData": [reading]}
    await again.call("StopTransaction", unknown)
    await again.call("StopTransaction", unknown)
    stops = await _events(rds, keys, cp, "tx_stop")
    assert [e["transaction_id"] for e in stops] == [str(tx), "424242"]
    [meter] = [e for e in await _events(rds, keys, cp, "meter") if e["transaction_id"] == "424242"]
    assert (meter["connector"], meter["samples"][0][2]) == (0, 950.0)


async def test_ocpp16_a_start_sent_again_after_a_reconnect_is_the_same_transaction(
    charger: Connect, rds: redis.Redis, keys: Keys, uid: str
) -> None:
    """Its answer was lost with the connection, so the charger has no id: it gets the first,
    and no second transaction is left running for ever."""
    cp = f"RST16-{uid}"
    start = {"connectorId": 1, "idTag": "T", "meterStart": 100, "timestamp": TS}
    first = await (await charger(cp)).call("StartTransaction", start)
    again = await charger(cp)
    repeat = await again.call("StartTransaction", start)
    assert repeat[0] == 3 and repeat[2] == first[2]
    # another start on the connector (a later time) is another transaction
    later = await again.call("StartTransaction", {**start, "timestamp": "2026-01-01T01:00:00Z"})
    assert later[2]["transactionId"] != first[2]["transactionId"]
    starts = await _events(rds, keys, cp, "tx_start")
    assert [e["transaction_id"] for e in starts] == [
        str(first[2]["transactionId"]),
        str(later[2]["transactionId"]),
    ]
    stop = {"transactionId": later[2]["transactionId"], "meterStop": 900, "timestamp": TS}
    await again.call("StopTransaction", stop)
    assert await rds.hget(keys.charger(cp), f"{F.TX_START}1") == ""


async def test_ocpp16_a_start_still_being_stored_when_its_charger_came_back_is_the_same_one(
    csms: CsmsApp, charger: Connect, rds: redis.Redis, keys: Keys, uid: str
) -> None:
    """The connection dropped while its start was being stored: the next connection to the node
    reads the charger's state once that write has landed, so the resend gets the same
    transaction instead of beginning a second one."""
    cp = f"LATE16-{uid}"
    start = {"connectorId": 1, "idTag": "T", "meterStart": 100, "timestamp": TS}
    first = await charger(cp)
    await first.call("Heartbeat", {})  # attached

    async def storing() -> bool:
        conn = csms.node.connections.get(cp)
        return conn is not None and conn.busy

    await rds.execute_command("CLIENT", "PAUSE", "10000", "WRITE")
    try:
        await first.ws.send(orjson.dumps([2, "late", "StartTransaction", start]).decode())
        await until(storing)  # its write is on its way, held by Redis
        first.ws.transport.abort()  # gone without a word, the answer never sent
        again = asyncio.ensure_future(charger(cp))
        # Reading the charger's state now would find no transaction; a handshake that does
        # not wait for the write is through well within this second.
        done, _ = await asyncio.wait({again}, timeout=1.0)
        assert not done
    finally:
        await rds.execute_command("CLIENT", "UNPAUSE")
    repeat = await (await again).call("StartTransaction", start)
    assert repeat[0] == 3
    starts = await _events(rds, keys, cp, "tx_start")
    assert [e["transaction_id"] for e in starts] == [str(repeat[2]["transactionId"])]


@pytest.mark.parametrize("lands", ["before it attaches", "after it attached"])
async def test_ocpp16_a_start_still_being_stored_when_its_charger_moved_node_is_stored_once(
    start_csms: StartCsms, settings: Settings, rds: redis.Redis, keys: Keys, uid: str, lands: str
) -> None:
    """The connection dropped while its start was on its way to Redis, held there by a cut
    link, and the charger came back on another node. Landing before the new connection
    attaches, the start is what that connection carries on from, so the resend is the same
    transaction; landing after, it is refused, so the resend begins it. One transaction."""
    assert settings.redis_url
    where = urlsplit(settings.redis_url)
    link = LinkProxy(where.hostname or "127.0.0.1", where.port or 6379)
    await link.start()
    try:
        through_link = where._replace(netloc=f"127.0.0.1:{link.port}").geturl()
        a = await start_csms(node_id=f"a-{uid}", redis_url=through_link)
        b = await start_csms(node_id=f"b-{uid}")
        cp = f"MOVED16-{uid}"
        # a tag no token could have (its "#"): not looked up, so what the cut holds is the write
        start = {"connectorId": 1, "idTag": "T#1", "meterStart": 100, "timestamp": TS}
        first = await open_raw(a, cp)
        await first.call("Heartbeat", {})
        held = a.node.connections[cp]
        link.cut("drop")
        await first.ws.send(orjson.dumps([2, "late", "StartTransaction", start]).decode())

        async def storing() -> bool:
            return held.busy

        async def landed() -> bool:
            return not held.busy

        await until(storing)
        first.ws.transport.abort()  # gone without a word, the answer never sent

        async def land() -> None:
            link.restore()
            await until(landed)  # stored or refused

        if lands == "before it attaches":
            attach = b.node.presence.attach

            async def attach_once_landed(conn: ChargerConnection) -> None:
                await land()  # after the handshake read the charger's state
                await attach(conn)

            b.node.presence.attach = attach_once_landed  # type: ignore[method-assign]
        again = await open_raw(b, cp)
        await again.call("Heartbeat", {})  # attached
        if lands == "after it attached":
            await land()
        first_start = await _events(rds, keys, cp, "tx_start")
        if lands == "before it attaches":  # stored, and carried on from
            assert len(first_start) == 1
            assert b.node.connections[cp].session.transactions == {
                1: first_start[0]["transaction_id"]
            }
        else:  # refused
            assert first_start == []
            assert await rds.hget(keys.charger(cp), F.TX_VERSION) is None
        repeat = await again.call("StartTransaction", start)
        assert repeat[0] == 3
        starts = await _events(rds, keys, cp, "tx_start")
        assert [e["transaction_id"] for e in starts] == [str(repeat[2]["transactionId"])]
        stop = {"transactionId": repeat[2]["transactionId"], "meterStop": 900, "timestamp": TS}
        await again.call("StopTransaction", stop)
        assert not b.node.connections[cp].session.transactions
    finally:
        await link.stop()


async def test_ocpp16_a_connection_the_registry_no_longer_names_is_closed_at_its_next_start(
    csms: CsmsApp, charger: Connect, rds: redis.Redis, keys: Keys, uid: str
) -> None:
    """Its start is refused as from a replaced connection, and the connection closed; had the
    registry lost it rather than moved on (Redis back from an older file), the charger comes
    back current and its resend is stored."""
    cp = f"LOST16-{uid}"
    start = {"connectorId": 1, "idTag": "T#1", "meterStart": 100, "timestamp": TS}
    first = await charger(cp)
    await first.call("Heartbeat", {})  # attached
    await rds.hset(keys.charger(cp), F.GENERATION, "0/elsewhere")
    refused = await first.call("StartTransaction", start)
    assert refused[0] == 4 and refused[2] == "InternalError"
    await asyncio.wait_for(first.ws.wait_closed(), 5)
    assert first.ws.close_code == 1000
    assert await _events(rds, keys, cp, "tx_start") == []
    again = await charger(cp)
    stored = await again.call("StartTransaction", start)
    assert stored[0] == 3
    starts = await _events(rds, keys, cp, "tx_start")
    assert [e["transaction_id"] for e in starts] == [str(stored[2]["transactionId"])]


def _tx201_on(kind: str, seq: int, evse: int | None, **extra: Any) -> dict[str, Any]:
    """A TransactionEvent of transaction "tx-energy", on an EVSE or (None) naming none."""
    event = {**_tx201(kind, seq), **extra}
    if evse is None:
        del event["evse"]
    else:
        event["evse"] = {"id": evse}
    return event


@pytest.mark.parametrize("end_names_the_evse", [False, True])
async def test_ocpp201_a_transaction_started_before_its_evse_was_known_ends_on_it(
    csms: CsmsApp,
    charger: Connect,
    rds: redis.Redis,
    keys: Keys,
    uid: str,
    end_names_the_evse: bool,
) -> None:
    """A Started may leave out its EVSE (the cable not yet in); a later event names it. The
    transaction is that EVSE's from then on, and its end leaves nothing running anywhere."""
    cp = f"EV0-{uid}"
    c = await charger(cp, "ocpp2.0.1")
    await c.call("TransactionEvent", _tx201_on("Started", 0, None))
    session = csms.node.connections[cp].session
    assert session.transactions == {0: "tx-energy"}
    await c.call("TransactionEvent", _tx201_on("Updated", 1, 1))
    assert session.transactions == {1: "tx-energy"}
    assert (await rds.hget(keys.charger(cp), f"{F.TRANSACTION}0")) == ""
    ended = _tx201_on("Ended", 2, 1 if end_names_the_evse else None)
    ended["transactionInfo"] = {"transactionId": "tx-energy", "chargingState": "Idle"}
    await c.call("TransactionEvent", ended)
    assert session.transactions == {} and session.charging_state == {}
    state = await rds.hgetall(keys.charger(cp))
    assert not any(state.get(f"{F.TRANSACTION}{n}") for n in (0, 1))
    assert not any(state.get(f"{F.CHARGING_STATE}{n}") for n in (0, 1))


async def test_ocpp201_a_reconnect_mid_transaction_keeps_what_its_end_needs(
    charger: Connect, rds: redis.Redis, keys: Keys, uid: str
) -> None:
    """The latest reading is the stop of an end that carries none, and the first reading the
    start of a Started that carried none, across a new connection too."""
    cp = f"RC201-{uid}"
    await (await charger(cp, "ocpp2.0.1")).call("TransactionEvent", _tx201("Started", 0))
    c = await charger(cp, "ocpp2.0.1")
    await c.call("TransactionEvent", _tx201("Updated", 1, {"value": 1500}))
    [first, filled] = await _events(rds, keys, cp, "tx_start")
    assert (first["meter_start_wh"], filled["meter_start_wh"]) == (None, 1500)
    await c.call("TransactionEvent", _tx201("Updated", 2, {"value": 5000}))
    c = await charger(cp, "ocpp2.0.1")
    await c.call("TransactionEvent", _tx201("Ended", 3))
    [end] = await _events(rds, keys, cp, "tx_stop")
    assert end["meter_stop_wh"] == 5000


async def test_ocpp201_a_report_after_the_end_neither_runs_nor_ends_the_transaction_again(
    charger: Connect, rds: redis.Redis, keys: Keys, uid: str
) -> None:
    cp = f"AE201-{uid}"
    c = await charger(cp, "ocpp2.0.1")
    await c.call("TransactionEvent", _tx201("Started", 0, {"value": 1000}))
    await c.call("TransactionEvent", _tx201("Ended", 1, {"value": 2000}))
    late = {
        **_tx201("Updated", 2, {"value": 3000}),
        "idToken": {"idToken": "T", "type": "ISO14443"},
    }
    answer = await c.call("TransactionEvent", late)
    assert answer[0] == 3 and "idTokenInfo" in answer[2]
    state = await rds.hgetall(keys.charger(cp))
    assert state[f"{F.TRANSACTION}1"] == "" and state[f"{F.CHARGING_STATE}1"] == ""
    assert state.get(f"{F.TX_TOKEN}1", "") == ""
    again = await charger(cp, "ocpp2.0.1")
    await again.call("TransactionEvent", _tx201("Ended", 3, {"value": 4000}))
    assert [e["meter_stop_wh"] for e in await _events(rds, keys, cp, "tx_stop")] == [2_000]
    assert len(await _events(rds, keys, cp, "tx_start")) == 1
    # the late readings are still the charger's readings
    assert [e["samples"][0][2] for e in await _events(rds, keys, cp, "meter")] == [
        1_000,
        2_000,
        3_000,
        4_000,
    ]


def _tx201(kind: str, seq: int, reading: dict[str, Any] | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "eventType": kind,
        "timestamp": TS,
        "triggerReason": "MeterValuePeriodic",
        "seqNo": seq,
        "transactionInfo": {"transactionId": "tx-energy", "chargingState": "Charging"},
        "evse": {"id": 1, "connectorId": 1},
    }
    if reading is not None:
        event["meterValue"] = [{"timestamp": TS, "sampledValue": [reading]}]
    return event


async def test_ocpp201_energy_in_any_unit_and_a_stop_without_a_reading(
    charger: Connect, rds: redis.Redis, keys: Keys, uid: str
) -> None:
    cp = f"E201-{uid}"
    c = await charger(cp, "ocpp2.0.1")
    await c.call(
        "TransactionEvent", _tx201("Started", 0, {"value": 1.5, "unitOfMeasure": {"unit": "kWh"}})
    )
    await c.call(
        "TransactionEvent",
        # Wh with multiplier 3 is kWh: 4 -> 4000 Wh
        _tx201("Updated", 1, {"value": 4, "unitOfMeasure": {"unit": "Wh", "multiplier": 3}}),
    )
    await c.call("TransactionEvent", _tx201("Ended", 2))  # no reading at the end
    begin = (await _events(rds, keys, cp, "tx_start"))[0]
    end = (await _events(rds, keys, cp, "tx_stop"))[0]
    assert begin["transaction_id"] == end["transaction_id"] == "tx-energy"
    assert begin["meter_start_wh"] == 1_500
    assert end["meter_stop_wh"] == 4_000  # the latest reading during the transaction
    assert end["seq_no"] == 2
    assert await rds.hget(keys.charger(cp), F.KWH) == "4.0"


async def test_ocpp201_offline_events_are_recorded_as_such(
    charger: Connect, rds: redis.Redis, keys: Keys, uid: str
) -> None:
    cp = f"OFFTX-{uid}"
    c = await charger(cp, "ocpp2.0.1")
    started = {**_tx201("Started", 0, {"value": 10.0}), "offline": True}
    assert (await c.call("TransactionEvent", started))[0] == 3
    begin = (await _events(rds, keys, cp, "tx_start"))[0]
    assert begin["offline"] is True and begin["seq_no"] == 0 and begin["meter_start_wh"] == 10.0


@pytest.mark.parametrize(
    ("protocol", "sampled", "expected"),
    [
        ("ocpp1.6", {"value": "2", "unit": "kWh"}, 2000.0),
        ("ocpp1.6", {"value": "2000"}, 2000.0),  # the unit defaults to Wh
        ("ocpp1.6", {"value": "NaN"}, None),
        ("ocpp1.6", {"value": "2_000"}, None),  # Python's literal syntax, not a decimal
        ("ocpp1.6", {"value": "\uff12\uff10\uff10\uff10"}, None),  # full-width digits
        ("ocpp1.6", {"value": "1", "phase": "L1"}, None),  # a phase is not the whole register
        ("ocpp2.0.1", {"value": 2.5, "unitOfMeasure": {"unit": "kWh"}}, 2500.0),
        ("ocpp2.0.1", {"value": 2.5, "unitOfMeasure": {"multiplier": 3}}, 2500.0),
        ("ocpp2.0.1", {"value": 25, "unitOfMeasure": {"unit": "kWh", "multiplier": -1}}, 2500.0),
        ("ocpp2.0.1", {"value": 3, "measurand": "Power.Active.Import"}, None),
    ],
)
def test_energy_register_in_wh(
    protocol: str, sampled: dict[str, Any], expected: float | None
) -> None:
    found, _ = meter.samples([{"timestamp": TS, "sampledValue": [sampled]}], protocol)
    value = meter.energy_wh(found)
    assert value == pytest.approx(expected) if expected is not None else value is None


async def test_transactions_a_charger_never_ends_leave_no_state_behind(
    csms: CsmsApp, charger: Connect, uid: str
) -> None:
    cp = f"LEAK-{uid}"
    c = await charger(cp, "ocpp2.0.1")
    for n in range(20):  # each Started replaces the last on EVSE 1, none is Ended
        event = {**_tx201("Started", 0), "transactionInfo": {"transactionId": f"t{n}"}}
        assert (await c.call("TransactionEvent", event))[0] == 3
    session = csms.node.connections[cp].session
    assert session.transactions == {1: "t19"}
    assert session.meter_start_unknown == {"t19"} and len(session.last_wh) <= 1


async def test_readings_taken_at_several_times_are_recorded_each_at_its_own(
    charger: Connect, rds: redis.Redis, keys: Keys, uid: str
) -> None:
    """An offline backlog in one MeterValues: each reading keeps the time it was taken."""
    cp = f"TS16-{uid}"
    c = await charger(cp)
    readings = [
        {"timestamp": f"2026-01-01T0{hour}:00:00Z", "sampledValue": [_sv16(wh, None)]}
        for hour, wh in ((8, "0"), (9, "1000"))
    ]
    await c.call("MeterValues", {"connectorId": 1, "meterValue": readings})
    meters = await _events(rds, keys, cp, "meter")
    assert [(m["ts"], m["samples"][0][2]) for m in meters] == [
        ("2026-01-01T08:00:00Z", 0.0),
        ("2026-01-01T09:00:00Z", 1000.0),
    ]
    state = await rds.hgetall(keys.charger(cp))
    assert (state[F.KWH], state[F.KWH_TS]) == ("1.0", "2026-01-01T09:00:00Z")


async def test_a_transaction_the_charger_never_stopped_ends_when_another_replaces_it(
    charger: Connect, rds: redis.Redis, keys: Keys, uid: str
) -> None:
    """One connector runs one transaction: a start there ends the one before at its time
    (reason Other, its last reading as the stop in 2.0.1), and the charger's own stop, should
    it come late, is recorded after it and kept."""
    cp = f"ORP16-{uid}"
    c = await charger(cp)
    start = {"connectorId": 1, "idTag": "T", "meterStart": 100, "timestamp": TS}
    first = (await c.call("StartTransaction", start))[2]["transactionId"]
    later = "2026-01-01T02:00:00Z"
    second = (await c.call("StartTransaction", {**start, "timestamp": later}))[2]
    [stop] = await _events(rds, keys, cp, "tx_stop")
    assert (stop["transaction_id"], stop["reason"], stop["ts"]) == (str(first), "Other", later)
    assert stop["connector"] == 1 and stop.get("meter_stop_wh") is None
    late = {"transactionId": first, "meterStop": 400, "timestamp": later}
    assert (await c.call("StopTransaction", late))[0] == 3
    stops = await _events(rds, keys, cp, "tx_stop")
    assert [(e["reason"], e.get("meter_stop_wh")) for e in stops] == [
        ("Other", None),
        ("Local", 400.0),
    ]
    assert await rds.hget(keys.charger(cp), f"{F.TRANSACTION}1") == str(second["transactionId"])

    cp201 = f"ORP201-{uid}"
    c = await charger(cp201, "ocpp2.0.1")
    reading = {"value": 1.5, "unitOfMeasure": {"unit": "kWh"}}
    await c.call("TransactionEvent", _tx201("Started", 0, reading))
    replacing = _tx201("Started", 0)
    replacing["transactionInfo"]["transactionId"] = "tx-next"
    replacing["timestamp"] = later
    await c.call("TransactionEvent", replacing)
    [stop] = await _events(rds, keys, cp201, "tx_stop")
    assert (stop["transaction_id"], stop["reason"], stop["ts"]) == ("tx-energy", "Other", later)
    assert stop["meter_stop_wh"] == 1500.0
    assert await rds.hget(keys.charger(cp201), f"{F.TRANSACTION}1") == "tx-next"


async def test_ocpp201_two_transactions_whose_evse_is_not_known_yet_both_run(
    charger: Connect, rds: redis.Redis, keys: Keys, uid: str
) -> None:
    """Started before their cables are in, they name no EVSE: neither ends the other."""
    cp = f"TWO0-{uid}"
    c = await charger(cp, "ocpp2.0.1")
    first = _tx201_on("Started", 0, None)
    second = _tx201_on("Started", 0, None)
    second["transactionInfo"] = {"transactionId": "tx-other"}
    await c.call("TransactionEvent", first)
    await c.call("TransactionEvent", second)
    assert await _events(rds, keys, cp, "tx_stop") == []
