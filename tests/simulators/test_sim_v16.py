"""The OCPP 1.6J charge point: sessions, availability, reset, triggers and configuration."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from simulators import SimCharger16
from tests.simulators.fake_central import FakeCentral, Session, eventually


@pytest.fixture
async def central() -> AsyncIterator[FakeCentral]:
    async with FakeCentral() as server:
        yield server
    assert server.invalid == []


@pytest.fixture
async def charger(central: FakeCentral) -> AsyncIterator[SimCharger16]:
    sim = SimCharger16("CP-16", central.url, meter_interval=0.05, reconnect_delay=0.05)
    await sim.start()
    yield sim
    await sim.stop()


def session(central: FakeCentral) -> Session:
    return central.session("CP-16")


async def call(central: FakeCentral, action: str, payload: dict[str, Any]) -> Any:
    """Send a CALL to the charger and return the CALLRESULT payload."""
    reply = await central.call("CP-16", action, payload)
    assert reply[0] == 3, reply
    return reply[2]


def energy_readings(central: FakeCentral) -> list[float]:
    return [
        float(sv["value"])
        for mv in session(central).payloads("MeterValues")
        for sv in mv["meterValue"][0]["sampledValue"]
        if sv["measurand"] == "Energy.Active.Import.Register"
    ]


async def remote_start(central: FakeCentral, charger: SimCharger16) -> None:
    reply = await call(central, "RemoteStartTransaction", {"idTag": "TAG1", "connectorId": 1})
    assert reply == {"status": "Accepted"}
    await eventually(lambda: charger.connector_status[1] == "Charging")


async def test_remote_start_reports_preparing_start_transaction_and_charging(
    central: FakeCentral, charger: SimCharger16
) -> None:
    await remote_start(central, charger)

    after_boot = session(central).actions()[3:]
    assert after_boot[:3] == ["StatusNotification", "StartTransaction", "StatusNotification"]
    assert session(central).statuses()[-2:] == [(1, "Preparing"), (1, "Charging")]
    start = session(central).payloads("StartTransaction")[0]
    assert start["connectorId"] == 1 and start["idTag"] == "TAG1"
    assert isinstance(start["meterStart"], int)
    assert charger.transaction_id == 42  # assigned by the central system


async def test_a_remote_stop_right_behind_the_start_s_answer_stops_that_transaction(
    central: FakeCentral, charger: SimCharger16
) -> None:
    # the central system may send the stop as soon as it has answered the start: a charger
    # reads the answer (and its transaction id) before the next frame
    central.behind_reply["StartTransaction"] = lambda reply: (
        "RemoteStopTransaction",
        {"transactionId": reply["transactionId"]},
    )
    reply = await call(central, "RemoteStartTransaction", {"idTag": "TAG1", "connectorId": 1})
    assert reply == {"status": "Accepted"}
    await eventually(lambda: session(central).behind)
    stop = await asyncio.wait_for(session(central).behind[0], 5)
    assert stop[2] == {"status": "Accepted"}
    await eventually(lambda: "StopTransaction" in session(central).actions())


async def test_meter_values_rise_while_charging(
    central: FakeCentral, charger: SimCharger16
) -> None:
    await remote_start(central, charger)

    await eventually(lambda: len(energy_readings(central)) >= 3)
    readings = energy_readings(central)
    assert readings == sorted(readings) and readings[-1] > readings[0]
    values = session(central).payloads("MeterValues")[-1]
    assert values["transactionId"] == 42 and values["connectorId"] == 1
    sampled = {sv["measurand"]: sv for sv in values["meterValue"][0]["sampledValue"]}
    assert sampled["Energy.Active.Import.Register"]["unit"] == "Wh"
    assert sampled["Power.Active.Import"] == {
        "value": "11000",
        "context": "Sample.Periodic",
        "measurand": "Power.Active.Import",
        "unit": "W",
    }
    # 11 kW for 0.05 s is about 0.15 Wh per sample.
    assert charger.meter_wh == pytest.approx(0.153 * len(readings), rel=0.5)


async def test_remote_start_is_rejected_while_busy_or_on_unknown_connector(
    central: FakeCentral, charger: SimCharger16
) -> None:
    await remote_start(central, charger)

    busy = await call(central, "RemoteStartTransaction", {"idTag": "TAG2"})
    unknown = await call(central, "RemoteStartTransaction", {"idTag": "TAG2", "connectorId": 9})

    assert busy == unknown == {"status": "Rejected"}


async def test_remote_stop_sends_stop_transaction_then_finishing_and_available(
    central: FakeCentral, charger: SimCharger16
) -> None:
    await remote_start(central, charger)
    marker = len(session(central).calls)

    reply = await call(central, "RemoteStopTransaction", {"transactionId": 42})

    assert reply == {"status": "Accepted"}
    await eventually(lambda: charger.connector_status[1] == "Available")
    actions = [a for a in session(central).actions()[marker:] if a != "MeterValues"]
    assert actions == ["StopTransaction", "StatusNotification", "StatusNotification"]
    assert session(central).statuses()[-2:] == [(1, "Finishing"), (1, "Available")]
    stop = session(central).payloads("StopTransaction")[0]
    assert stop["transactionId"] == 42 and stop["reason"] == "Remote"
    assert stop["meterStop"] >= session(central).payloads("StartTransaction")[0]["meterStart"]
    assert charger.transaction_id is None


async def test_remote_stop_of_an_unknown_transaction_is_rejected(
    central: FakeCentral, charger: SimCharger16
) -> None:
    await remote_start(central, charger)

    reply = await call(central, "RemoteStopTransaction", {"transactionId": 7})

    assert reply == {"status": "Rejected"}
    assert charger.transaction_id == 42


async def test_start_transaction_refused_by_the_central_system_is_stopped(
    central: FakeCentral, charger: SimCharger16
) -> None:
    central.replies["StartTransaction"] = {"transactionId": 5, "idTagInfo": {"status": "Blocked"}}

    await call(central, "RemoteStartTransaction", {"idTag": "BAD"})

    await eventually(lambda: session(central).payloads("StopTransaction") != [])
    assert session(central).payloads("StopTransaction")[0]["reason"] == "DeAuthorized"
    await eventually(lambda: charger.connector_status[1] == "Available")


async def test_change_availability_of_the_charger_reports_unavailable(
    central: FakeCentral, charger: SimCharger16
) -> None:
    marker = len(session(central).statuses())

    reply = await call(central, "ChangeAvailability", {"connectorId": 0, "type": "Inoperative"})

    assert reply == {"status": "Accepted"}
    await eventually(lambda: len(session(central).statuses()) == marker + 2)
    assert session(central).statuses()[marker:] == [(0, "Unavailable"), (1, "Unavailable")]
    assert charger.availability == {0: "Inoperative", 1: "Inoperative"}
    refused = await call(central, "RemoteStartTransaction", {"idTag": "TAG1"})
    assert refused == {"status": "Rejected"}

    await call(central, "ChangeAvailability", {"connectorId": 0, "type": "Operative"})
    await eventually(lambda: charger.connector_status == {0: "Available", 1: "Available"})


async def test_change_availability_during_a_session_is_scheduled(
    central: FakeCentral, charger: SimCharger16
) -> None:
    await remote_start(central, charger)

    reply = await call(central, "ChangeAvailability", {"connectorId": 1, "type": "Inoperative"})
    assert reply == {"status": "Scheduled"}
    assert charger.connector_status[1] == "Charging"

    await call(central, "RemoteStopTransaction", {"transactionId": 42})
    await eventually(lambda: charger.connector_status[1] == "Unavailable")


async def test_reset_stops_the_session_and_boots_again(
    central: FakeCentral, charger: SimCharger16
) -> None:
    await remote_start(central, charger)

    reply = await call(central, "Reset", {"type": "Soft"})

    assert reply == {"status": "Accepted"}
    await eventually(lambda: len(central.sessions) == 2 and charger.booted)
    assert central.sessions[0].payloads("StopTransaction")[0]["reason"] == "SoftReset"
    assert central.sessions[1].actions()[0] == "BootNotification"


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("StatusNotification", "StatusNotification"),
        ("MeterValues", "MeterValues"),
        ("Heartbeat", "Heartbeat"),
        ("BootNotification", "BootNotification"),
        ("DiagnosticsStatusNotification", "DiagnosticsStatusNotification"),
    ],
)
async def test_trigger_message_sends_the_requested_message(
    central: FakeCentral, charger: SimCharger16, message: str, expected: str
) -> None:
    before = session(central).actions().count(expected)

    reply = await call(central, "TriggerMessage", {"requestedMessage": message, "connectorId": 1})

    assert reply == {"status": "Accepted"}
    await eventually(lambda: session(central).actions().count(expected) > before)


async def test_configuration_can_be_read_and_changed(
    central: FakeCentral, charger: SimCharger16
) -> None:
    everything = await call(central, "GetConfiguration", {})
    keys = {item["key"]: item for item in everything["configurationKey"]}
    assert keys["HeartbeatInterval"] == {
        "key": "HeartbeatInterval",
        "readonly": False,
        "value": "60",
    }
    assert keys["NumberOfConnectors"]["readonly"] is True

    changed = await call(central, "ChangeConfiguration", {"key": "HeartbeatInterval", "value": "5"})
    readonly = await call(
        central, "ChangeConfiguration", {"key": "NumberOfConnectors", "value": "3"}
    )
    unknown = await call(central, "ChangeConfiguration", {"key": "Nope", "value": "1"})
    assert (changed, readonly, unknown) == (
        {"status": "Accepted"},
        {"status": "Rejected"},
        {"status": "NotSupported"},
    )
    assert charger.heartbeat_interval == 5

    some = await call(central, "GetConfiguration", {"key": ["HeartbeatInterval", "Nope"]})
    assert some == {
        "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "5"}],
        "unknownKey": ["Nope"],
    }


async def test_unlock_connector_and_clear_cache_are_accepted(
    central: FakeCentral, charger: SimCharger16
) -> None:
    assert await call(central, "UnlockConnector", {"connectorId": 1}) == {"status": "Unlocked"}
    assert await call(central, "ClearCache", {}) == {"status": "Accepted"}


async def test_a_call_missing_required_fields_gets_formation_violation(
    central: FakeCentral, charger: SimCharger16
) -> None:
    reply = await central.call("CP-16", "RemoteStartTransaction", {}, check=False)

    assert reply[0] == 4 and reply[2] == "FormationViolation"


async def test_every_frame_of_a_full_session_matches_the_official_schemas(
    central: FakeCentral, charger: SimCharger16
) -> None:
    await remote_start(central, charger)
    await eventually(lambda: len(energy_readings(central)) >= 2)
    await call(central, "TriggerMessage", {"requestedMessage": "MeterValues"})
    await call(central, "GetConfiguration", {})
    await call(central, "RemoteStopTransaction", {"transactionId": 42})
    await eventually(lambda: charger.connector_status[1] == "Available")
    await call(central, "ChangeAvailability", {"connectorId": 1, "type": "Inoperative"})
    await eventually(lambda: charger.connector_status[1] == "Unavailable")

    sent = [f for f in session(central).frames if f[0] in (2, 3)]
    assert central.invalid == []
    assert central.checked == len(sent) > 15
