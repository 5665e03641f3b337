"""The OCPP 2.0.1 charging station: transactions, availability, reset, triggers, variables."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from simulators import SimCharger201
from tests.simulators.fake_central import FakeCentral, Session, eventually

TOKEN = {"idToken": "TAG1", "type": "Central"}


@pytest.fixture
async def central() -> AsyncIterator[FakeCentral]:
    async with FakeCentral() as server:
        yield server
    assert server.invalid == []


@pytest.fixture
async def charger(central: FakeCentral) -> AsyncIterator[SimCharger201]:
    sim = SimCharger201("CS-201", central.url, meter_interval=0.05, reconnect_delay=0.05)
    await sim.start()
    yield sim
    await sim.stop()


def session(central: FakeCentral) -> Session:
    return central.session("CS-201")


async def call(central: FakeCentral, action: str, payload: dict[str, Any]) -> Any:
    """Send a CALL to the station and return the CALLRESULT payload."""
    reply = await central.call("CS-201", action, payload)
    assert reply[0] == 3, reply
    return reply[2]


def events(central: FakeCentral, event_type: str | None = None) -> list[dict[str, Any]]:
    found = session(central).payloads("TransactionEvent")
    return [e for e in found if event_type is None or e["eventType"] == event_type]


def energy(event: dict[str, Any]) -> float:
    sampled = event["meterValue"][0]["sampledValue"]
    return next(
        float(sv["value"]) for sv in sampled if sv["measurand"] == "Energy.Active.Import.Register"
    )


async def remote_start(central: FakeCentral, charger: SimCharger201) -> str:
    reply = await call(
        central, "RequestStartTransaction", {"idToken": TOKEN, "remoteStartId": 7, "evseId": 1}
    )
    assert reply == {"status": "Accepted"}
    await eventually(lambda: events(central, "Started") != [])
    assert isinstance(charger.transaction_id, str)
    return charger.transaction_id


async def test_boot_notification_says_power_up(
    central: FakeCentral, charger: SimCharger201
) -> None:
    boot = session(central).payloads("BootNotification")[0]

    assert boot["reason"] == "PowerUp"
    assert boot["chargingStation"]["vendorName"] == charger.vendor


async def test_remote_start_reports_occupied_and_a_started_event(
    central: FakeCentral, charger: SimCharger201
) -> None:
    transaction_id = await remote_start(central, charger)

    assert session(central).statuses()[-1] == (1, "Occupied")
    started = events(central, "Started")[0]
    assert uuid.UUID(transaction_id)
    assert started["transactionInfo"] == {
        "transactionId": transaction_id,
        "chargingState": "Charging",
        "remoteStartId": 7,
    }
    assert started["triggerReason"] == "RemoteStart"
    assert started["seqNo"] == 0
    assert started["evse"] == {"id": 1, "connectorId": 1}
    assert started["idToken"] == TOKEN
    assert charger.connector_status[1] == "Occupied"


async def test_updated_events_carry_rising_meter_values(
    central: FakeCentral, charger: SimCharger201
) -> None:
    await remote_start(central, charger)

    await eventually(lambda: len(events(central, "Updated")) >= 3)
    updated = events(central, "Updated")
    assert [e["triggerReason"] for e in updated] == ["MeterValuePeriodic"] * len(updated)
    assert [e["seqNo"] for e in updated] == list(range(1, len(updated) + 1))
    readings = [energy(e) for e in updated]
    assert readings == sorted(readings) and readings[-1] > readings[0]
    sampled = updated[-1]["meterValue"][0]["sampledValue"]
    assert sampled[0]["unitOfMeasure"] == {"unit": "Wh"}
    assert sampled[1]["measurand"] == "Power.Active.Import" and sampled[1]["value"] == 11000
    assert charger.meter_wh > 0


async def test_remote_start_is_rejected_while_busy(
    central: FakeCentral, charger: SimCharger201
) -> None:
    await remote_start(central, charger)

    reply = await call(central, "RequestStartTransaction", {"idToken": TOKEN, "remoteStartId": 8})

    assert reply == {"status": "Rejected"}


async def test_remote_stop_ends_the_transaction_and_reports_available(
    central: FakeCentral, charger: SimCharger201
) -> None:
    transaction_id = await remote_start(central, charger)

    reply = await call(central, "RequestStopTransaction", {"transactionId": transaction_id})

    assert reply == {"status": "Accepted"}
    await eventually(lambda: charger.connector_status[1] == "Available")
    ended = events(central, "Ended")[0]
    assert ended["transactionInfo"]["transactionId"] == transaction_id
    assert ended["transactionInfo"]["stoppedReason"] == "Remote"
    assert ended["triggerReason"] == "RemoteStop"
    assert ended["seqNo"] == max(e["seqNo"] for e in events(central))
    assert energy(ended) >= energy(events(central, "Started")[0])
    assert session(central).statuses()[-1] == (1, "Available")
    assert charger.transaction_id is None


async def test_remote_stop_of_an_unknown_transaction_is_rejected(
    central: FakeCentral, charger: SimCharger201
) -> None:
    await remote_start(central, charger)

    reply = await call(central, "RequestStopTransaction", {"transactionId": "nope"})

    assert reply == {"status": "Rejected"}


async def test_change_availability_reports_unavailable_and_blocks_starts(
    central: FakeCentral, charger: SimCharger201
) -> None:
    reply = await call(central, "ChangeAvailability", {"operationalStatus": "Inoperative"})

    assert reply == {"status": "Accepted"}
    await eventually(lambda: session(central).statuses()[-1] == (1, "Unavailable"))
    assert charger.availability[0] == "Inoperative"
    refused = await call(central, "RequestStartTransaction", {"idToken": TOKEN, "remoteStartId": 1})
    assert refused == {"status": "Rejected"}

    evse = {"operationalStatus": "Operative", "evse": {"id": 1}}
    assert await call(central, "ChangeAvailability", evse) == {"status": "Accepted"}
    await call(central, "ChangeAvailability", {"operationalStatus": "Operative"})
    await eventually(lambda: charger.connector_status[1] == "Available")


async def test_reset_ends_the_transaction_and_boots_with_remote_reset(
    central: FakeCentral, charger: SimCharger201
) -> None:
    await remote_start(central, charger)

    reply = await call(central, "Reset", {"type": "Immediate"})

    assert reply == {"status": "Accepted"}
    await eventually(lambda: len(central.sessions) == 2 and charger.booted)
    assert events(central) == []  # nothing yet on the new connection
    ended = [
        e for e in central.sessions[0].payloads("TransactionEvent") if e["eventType"] == "Ended"
    ]
    assert ended[0]["transactionInfo"]["stoppedReason"] == "ImmediateReset"
    assert central.sessions[1].payloads("BootNotification")[0]["reason"] == "RemoteReset"


async def test_reset_on_idle_waits_for_the_transaction_to_end(
    central: FakeCentral, charger: SimCharger201
) -> None:
    transaction_id = await remote_start(central, charger)

    assert await call(central, "Reset", {"type": "OnIdle"}) == {"status": "Scheduled"}
    assert len(central.sessions) == 1

    await call(central, "RequestStopTransaction", {"transactionId": transaction_id})
    await eventually(lambda: len(central.sessions) == 2 and charger.booted)


async def test_reconnect_boot_is_not_a_power_up(
    central: FakeCentral, charger: SimCharger201
) -> None:
    await central.drop("CS-201")

    await eventually(lambda: len(central.sessions) == 2 and charger.booted)
    assert central.sessions[1].payloads("BootNotification")[0]["reason"] == "Unknown"


@pytest.mark.parametrize("message", ["StatusNotification", "MeterValues", "Heartbeat"])
async def test_trigger_message_sends_the_requested_message(
    central: FakeCentral, charger: SimCharger201, message: str
) -> None:
    before = session(central).actions().count(message)

    reply = await call(central, "TriggerMessage", {"requestedMessage": message, "evse": {"id": 1}})

    assert reply == {"status": "Accepted"}
    await eventually(lambda: session(central).actions().count(message) > before)


async def test_triggered_transaction_event_needs_a_transaction(
    central: FakeCentral, charger: SimCharger201
) -> None:
    trigger = {"requestedMessage": "TransactionEvent"}
    assert await call(central, "TriggerMessage", trigger) == {"status": "Rejected"}

    await remote_start(central, charger)
    assert await call(central, "TriggerMessage", trigger) == {"status": "Accepted"}
    await eventually(lambda: any(e["triggerReason"] == "Trigger" for e in events(central)))


async def test_variables_can_be_read_and_set(central: FakeCentral, charger: SimCharger201) -> None:
    heartbeat = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
    unknown = {"component": {"name": "Toaster"}, "variable": {"name": "Crispness"}}
    identity = {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "Identity"}}

    got = await call(central, "GetVariables", {"getVariableData": [heartbeat, unknown]})
    assert [r["attributeStatus"] for r in got["getVariableResult"]] == [
        "Accepted",
        "UnknownVariable",
    ]
    assert got["getVariableResult"][0]["attributeValue"] == "60"

    changes = [
        {**heartbeat, "attributeValue": "30"},
        {**identity, "attributeValue": "someone-else"},
        {**unknown, "attributeValue": "3"},
    ]
    result = await call(central, "SetVariables", {"setVariableData": changes})
    assert [r["attributeStatus"] for r in result["setVariableResult"]] == [
        "Accepted",
        "Rejected",
        "UnknownVariable",
    ]
    assert charger.heartbeat_interval == 30


async def test_base_report_and_unlock_are_accepted(
    central: FakeCentral, charger: SimCharger201
) -> None:
    report = await call(central, "GetBaseReport", {"requestId": 1, "reportBase": "FullInventory"})
    unlock = await call(central, "UnlockConnector", {"evseId": 1, "connectorId": 1})

    assert report == {"status": "Accepted"}
    assert unlock == {"status": "Unlocked"}


async def test_a_call_missing_required_fields_gets_format_violation(
    central: FakeCentral, charger: SimCharger201
) -> None:
    reply = await central.call("CS-201", "RequestStartTransaction", {}, check=False)

    assert reply[0] == 4 and reply[2] == "FormatViolation"


async def test_every_frame_of_a_full_session_matches_the_official_schemas(
    central: FakeCentral, charger: SimCharger201
) -> None:
    transaction_id = await remote_start(central, charger)
    await eventually(lambda: len(events(central, "Updated")) >= 2)
    await call(central, "TriggerMessage", {"requestedMessage": "MeterValues"})
    await call(central, "TriggerMessage", {"requestedMessage": "TransactionEvent"})
    await call(central, "RequestStopTransaction", {"transactionId": transaction_id})
    await eventually(lambda: charger.connector_status[1] == "Available")
    await call(central, "ChangeAvailability", {"operationalStatus": "Inoperative"})
    await eventually(lambda: charger.connector_status[1] == "Unavailable")

    sent = [f for f in session(central).frames if f[0] in (2, 3)]
    assert central.invalid == []
    assert central.checked == len(sent) > 12
