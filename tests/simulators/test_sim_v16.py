"""The OCPP 1.6J charge point: sessions, availability, reset, triggers and configuration, and
every other message a central system can send it (all six feature profiles)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from http import HTTPStatus
from typing import Any

import pytest

from shared.framing import OCPP16
from shared.ocpp_schemas import CSMS_ACTIONS
from simulators import NotConnected, SimCharger16
from simulators.clock import iso
from tests.simulators.fake_central import FakeCentral, Session, eventually, validator

# Every message an OCPP 1.6 central system sends, over all feature profiles.
CSMS_MESSAGES = sorted(CSMS_ACTIONS[OCPP16])
FIRMWARE = "https://firmware.example.com/evcs/evcs-sim-2.0.bin"


@pytest.fixture
async def central() -> AsyncIterator[FakeCentral]:
    async with FakeCentral() as server:
        yield server
    assert server.invalid == []


@pytest.fixture
async def charger(central: FakeCentral) -> AsyncIterator[SimCharger16]:
    sim = SimCharger16(
        "CP-16", central.url, meter_interval=0.05, reconnect_delay=0.05, step_delay=0.02
    )
    await sim.start()
    yield sim
    await sim.stop()


def session(central: FakeCentral) -> Session:
    return central.session("CP-16")


async def call(central: FakeCentral, action: str, payload: dict[str, Any]) -> Any:
    """Send a CALL to the charger and return the CALLRESULT payload, checked against the
    official response schema."""
    reply = await central.call("CP-16", action, payload)
    assert reply[0] == 3, reply
    validator("ocpp1.6", action, True)(reply[2])
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


@pytest.mark.parametrize("kind", ["Soft", "Hard"])
async def test_reset_stops_the_session_and_boots_again(
    central: FakeCentral, charger: SimCharger16, kind: str
) -> None:
    await remote_start(central, charger)

    reply = await call(central, "Reset", {"type": kind})

    assert reply == {"status": "Accepted"}
    await eventually(lambda: len(central.sessions) == 2 and charger.booted)
    assert central.sessions[0].payloads("StopTransaction")[0]["reason"] == f"{kind}Reset"
    assert central.sessions[1].actions()[0] == "BootNotification"
    assert charger.boot_count == 2


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("StatusNotification", "StatusNotification"),
        ("MeterValues", "MeterValues"),
        ("Heartbeat", "Heartbeat"),
        ("BootNotification", "BootNotification"),
        ("DiagnosticsStatusNotification", "DiagnosticsStatusNotification"),
        ("FirmwareStatusNotification", "FirmwareStatusNotification"),
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


# ------------------------------------------------------------ every message


def later(seconds: float = 3600) -> str:
    return iso(time.time() + seconds)


def max_profile(limit: float = 32.0, profile_id: int = 1) -> dict[str, Any]:
    return {
        "chargingProfileId": profile_id,
        "stackLevel": 0,
        "chargingProfilePurpose": "ChargePointMaxProfile",
        "chargingProfileKind": "Relative",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}],
        },
    }


def tx_default(
    periods: list[tuple[int, float]], profile_id: int = 2, level: int = 0
) -> dict[str, Any]:
    return {
        "chargingProfileId": profile_id,
        "stackLevel": level,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Relative",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": s, "limit": lim} for s, lim in periods],
        },
    }


REQUESTS: dict[str, dict[str, Any]] = {
    "CancelReservation": {"reservationId": 1},
    "ChangeAvailability": {"connectorId": 1, "type": "Operative"},
    "ChangeConfiguration": {"key": "HeartbeatInterval", "value": "60"},
    "ClearCache": {},
    "ClearChargingProfile": {},
    "DataTransfer": {"vendorId": "com.example", "messageId": "Hello", "data": "x"},
    "GetCompositeSchedule": {"connectorId": 1, "duration": 3600, "chargingRateUnit": "W"},
    "GetConfiguration": {},
    "GetDiagnostics": {"location": "ftp://logs.example.com/upload/"},
    "GetLocalListVersion": {},
    "RemoteStartTransaction": {"idTag": "TAG1"},
    "RemoteStopTransaction": {"transactionId": 1},
    "ReserveNow": {"connectorId": 1, "expiryDate": later(), "idTag": "TAG1", "reservationId": 1},
    "Reset": {"type": "Soft"},
    "SendLocalList": {
        "listVersion": 1,
        "updateType": "Full",
        "localAuthorizationList": [{"idTag": "TAG1", "idTagInfo": {"status": "Accepted"}}],
    },
    "SetChargingProfile": {"connectorId": 0, "csChargingProfiles": max_profile()},
    "TriggerMessage": {"requestedMessage": "Heartbeat"},
    "UnlockConnector": {"connectorId": 1},
    "UpdateFirmware": {"location": FIRMWARE, "retrieveDate": iso(time.time())},
}


def test_the_charger_handles_every_message_of_a_central_system() -> None:
    charger = SimCharger16("CP-X", "ws://127.0.0.1:1/ocpp")

    assert sorted(charger.handlers) == sorted(CSMS_MESSAGES) == sorted(REQUESTS)


@pytest.mark.parametrize("action", CSMS_MESSAGES)
async def test_every_message_gets_an_answer_valid_against_the_official_schema(
    central: FakeCentral, charger: SimCharger16, action: str
) -> None:
    validator("ocpp1.6", action, False)(REQUESTS[action])

    await call(central, action, REQUESTS[action])  # checks the answer against the schema

    assert central.invalid == []


# ------------------------------------------------------ local authorization list


async def send_list(
    central: FakeCentral, version: int, update: str, entries: list[dict[str, Any]]
) -> str:
    payload: dict[str, Any] = {"listVersion": version, "updateType": update}
    if entries:
        payload["localAuthorizationList"] = entries
    return str((await call(central, "SendLocalList", payload))["status"])


def entry(tag: str, status: str | None = "Accepted") -> dict[str, Any]:
    return {"idTag": tag} if status is None else {"idTag": tag, "idTagInfo": {"status": status}}


async def list_version(central: FakeCentral) -> int:
    return int((await call(central, "GetLocalListVersion", {}))["listVersion"])


async def test_local_list_full_and_differential_updates_keep_a_version(
    central: FakeCentral, charger: SimCharger16
) -> None:
    assert await list_version(central) == 0

    assert await send_list(central, 1, "Full", [entry("A"), entry("B", "Blocked")]) == "Accepted"
    assert await list_version(central) == 1
    # a differential update must be newer than the list it changes
    assert await send_list(central, 1, "Differential", [entry("C")]) == "VersionMismatch"
    assert await list_version(central) == 1

    # an entry without idTagInfo is removed
    assert await send_list(central, 2, "Differential", [entry("C"), entry("B", None)]) == "Accepted"
    assert await list_version(central) == 2
    assert set(charger.local_list.entries) == {"A", "C"}

    assert await send_list(central, 5, "Full", []) == "Accepted"
    assert (await list_version(central), charger.local_list.entries) == (5, {})


async def test_local_list_updates_that_cannot_be_applied_fail_and_change_nothing(
    central: FakeCentral, charger: SimCharger16
) -> None:
    await send_list(central, 1, "Full", [entry("A")])

    assert await send_list(central, 2, "Full", [entry("B", None)]) == "Failed"
    too_many = [entry(f"T{n}") for n in range(101)]  # SendLocalListMaxLength is 100
    assert await send_list(central, 3, "Full", too_many) == "Failed"
    assert (await list_version(central), set(charger.local_list.entries)) == (1, {"A"})

    await call(central, "ChangeConfiguration", {"key": "LocalAuthListEnabled", "value": "false"})
    assert await send_list(central, 4, "Full", [entry("B")]) == "NotSupported"


async def test_authorize_takes_the_local_list_s_word_only_when_configured_to(
    central: FakeCentral, charger: SimCharger16
) -> None:
    central.replies["Authorize"] = {"idTagInfo": {"status": "Blocked"}}
    await send_list(central, 1, "Full", [entry("LISTED")])

    # by default the central system is asked, whatever the list says
    assert await charger.authorize("LISTED") == "Blocked"
    asked = session(central).actions().count("Authorize")
    assert asked == 1

    await call(central, "ChangeConfiguration", {"key": "LocalPreAuthorize", "value": "true"})
    assert await charger.authorize("LISTED") == "Accepted"
    assert session(central).actions().count("Authorize") == asked
    assert await charger.authorize("STRANGER") == "Blocked"  # not on the list: asked

    # offline, the list answers for whom it knows (LocalAuthorizeOffline)
    central.reject_http = HTTPStatus.SERVICE_UNAVAILABLE
    await central.drop("CP-16")
    await eventually(lambda: not charger.connected)
    assert await charger.authorize("LISTED") == "Accepted"
    with pytest.raises(NotConnected):
        await charger.authorize("STRANGER")


# ------------------------------------------------------------------- reservations


async def reserve(
    central: FakeCentral,
    reservation_id: int,
    connector: int = 1,
    tag: str = "TAG1",
    ttl: float = 3600,
) -> str:
    payload = {
        "connectorId": connector,
        "expiryDate": later(ttl),
        "idTag": tag,
        "reservationId": reservation_id,
    }
    return str((await call(central, "ReserveNow", payload))["status"])


async def test_reserve_now_reports_reserved_and_cancel_reservation_frees_the_connector(
    central: FakeCentral, charger: SimCharger16
) -> None:
    assert await reserve(central, 1) == "Accepted"
    await eventually(lambda: session(central).statuses()[-1] == (1, "Reserved"))

    assert await reserve(central, 2) == "Occupied"  # reserved for someone else
    other = await call(central, "RemoteStartTransaction", {"idTag": "OTHER", "connectorId": 1})
    assert other == {"status": "Rejected"}

    assert await call(central, "CancelReservation", {"reservationId": 1}) == {"status": "Accepted"}
    await eventually(lambda: session(central).statuses()[-1] == (1, "Available"))
    assert await call(central, "CancelReservation", {"reservationId": 1}) == {"status": "Rejected"}
    assert charger.reservations == {}


async def test_reserve_now_says_why_a_connector_cannot_be_reserved(
    central: FakeCentral, charger: SimCharger16
) -> None:
    assert await reserve(central, 1, connector=0) == "Rejected"  # no "any connector" support
    assert await reserve(central, 2, connector=9) == "Rejected"
    assert await reserve(central, 3, ttl=-60) == "Rejected"  # already expired

    await call(central, "ChangeAvailability", {"connectorId": 1, "type": "Inoperative"})
    assert await reserve(central, 4) == "Unavailable"
    await call(central, "ChangeAvailability", {"connectorId": 1, "type": "Operative"})
    await eventually(lambda: charger.connector_status[1] == "Available")

    await remote_start(central, charger)
    assert await reserve(central, 5) == "Occupied"
    assert charger.reservations == {}


async def test_the_reserved_identifier_takes_up_the_reservation(
    central: FakeCentral, charger: SimCharger16
) -> None:
    assert await reserve(central, 7, tag="TAG1") == "Accepted"

    await remote_start(central, charger)  # TAG1

    assert session(central).payloads("StartTransaction")[0]["reservationId"] == 7
    assert charger.reservations == {}
    await call(central, "RemoteStopTransaction", {"transactionId": 42})
    await eventually(lambda: charger.connector_status[1] == "Available")


async def test_a_reservation_ends_at_its_expiry_date(
    central: FakeCentral, charger: SimCharger16
) -> None:
    assert await reserve(central, 3, ttl=1.0) == "Accepted"

    await eventually(lambda: session(central).statuses()[-1] == (1, "Available"))
    assert session(central).statuses()[-2:] == [(1, "Reserved"), (1, "Available")]
    assert charger.reservations == {}


async def test_reserving_again_with_the_same_id_replaces_the_reservation(
    central: FakeCentral,
) -> None:
    sim = SimCharger16("CP-16", central.url, connectors=2, reconnect_delay=0.05)
    await sim.start()
    try:
        assert await reserve(central, 1, connector=1) == "Accepted"
        assert await reserve(central, 1, connector=1, tag="TAG2") == "Accepted"
        assert await reserve(central, 1, connector=2) == "Accepted"
        await eventually(
            lambda: sim.connector_status == {0: "Available", 1: "Available", 2: "Reserved"}
        )
        assert list(sim.reservations) == [1]
    finally:
        await sim.stop()


# ----------------------------------------------------------------------- firmware


def firmware_statuses(central: FakeCentral, index: int = 0) -> list[str]:
    return [
        p["status"] for p in central.session("CP-16", index).payloads("FirmwareStatusNotification")
    ]


async def test_update_firmware_reports_each_step_then_reboots_into_the_new_version(
    central: FakeCentral, charger: SimCharger16
) -> None:
    reply = await call(central, "UpdateFirmware", {"location": FIRMWARE, "retrieveDate": later(-1)})

    assert reply == {}
    await eventually(lambda: len(central.sessions) == 2 and charger.booted, timeout=10)
    assert firmware_statuses(central) == ["Downloading", "Downloaded", "Installing", "Installed"]
    boot = central.sessions[1].payloads("BootNotification")[0]
    assert boot["firmwareVersion"] == "evcs-sim-2.0.bin"
    assert central.sessions[0].payloads("BootNotification")[0]["firmwareVersion"] == "evcs-sim"

    # nothing is going on any more
    await call(central, "TriggerMessage", {"requestedMessage": "FirmwareStatusNotification"})
    await eventually(lambda: firmware_statuses(central, 1) == ["Idle"])


async def test_firmware_is_installed_once_the_session_has_ended(
    central: FakeCentral, charger: SimCharger16
) -> None:
    await remote_start(central, charger)

    await call(central, "UpdateFirmware", {"location": FIRMWARE, "retrieveDate": later(-1)})
    await eventually(lambda: "Downloaded" in firmware_statuses(central))
    # the session goes on meanwhile: several meter values later, still nothing installed
    readings = len(energy_readings(central))
    await eventually(lambda: len(energy_readings(central)) >= readings + 3)
    assert firmware_statuses(central) == ["Downloading", "Downloaded"]
    assert len(central.sessions) == 1

    await call(central, "RemoteStopTransaction", {"transactionId": 42})
    await eventually(lambda: len(central.sessions) == 2 and charger.booted, timeout=10)
    assert firmware_statuses(central)[-2:] == ["Installing", "Installed"]
    assert charger.firmware_version == "evcs-sim-2.0.bin"


async def test_a_future_retrieve_date_is_waited_for(
    central: FakeCentral, charger: SimCharger16
) -> None:
    start = time.time()

    await call(central, "UpdateFirmware", {"location": FIRMWARE, "retrieveDate": later(0.4)})

    await eventually(lambda: firmware_statuses(central) != [])
    assert time.time() - start >= 0.35


async def test_get_diagnostics_names_the_file_and_reports_the_upload(
    central: FakeCentral, charger: SimCharger16
) -> None:
    reply = await call(central, "GetDiagnostics", {"location": "ftp://logs.example.com/in/"})

    assert reply["fileName"].startswith("diagnostics-CP-16-")

    def statuses() -> list[str]:
        return [p["status"] for p in session(central).payloads("DiagnosticsStatusNotification")]

    await eventually(lambda: statuses() == ["Uploading", "Uploaded"])
    await eventually(lambda: charger.diagnostics_status == "Idle")
    await call(central, "TriggerMessage", {"requestedMessage": "DiagnosticsStatusNotification"})
    await eventually(lambda: statuses() == ["Uploading", "Uploaded", "Idle"])


# ------------------------------------------------------------------ unlock, misc


async def test_unlock_connector_ends_the_session_on_it_first(
    central: FakeCentral, charger: SimCharger16
) -> None:
    await remote_start(central, charger)

    assert await call(central, "UnlockConnector", {"connectorId": 1}) == {"status": "Unlocked"}

    await eventually(lambda: session(central).payloads("StopTransaction") != [])
    assert session(central).payloads("StopTransaction")[0]["reason"] == "UnlockCommand"
    await eventually(lambda: charger.connector_status[1] == "Available")
    for connector in (0, 2):
        failed = await call(central, "UnlockConnector", {"connectorId": connector})
        assert failed == {"status": "UnlockFailed"}


async def test_data_transfer_knows_no_vendor(central: FakeCentral, charger: SimCharger16) -> None:
    reply = await call(central, "DataTransfer", {"vendorId": "com.example"})

    assert reply == {"status": "UnknownVendorId"}


async def test_configuration_has_the_keys_of_all_six_feature_profiles(
    central: FakeCentral, charger: SimCharger16
) -> None:
    everything = await call(central, "GetConfiguration", {})
    keys = {item["key"]: item for item in everything["configurationKey"]}

    assert set(keys["SupportedFeatureProfiles"]["value"].split(",")) == {
        "Core",
        "FirmwareManagement",
        "LocalAuthListManagement",
        "Reservation",
        "SmartCharging",
        "RemoteTrigger",
    }
    assert keys["LocalAuthListEnabled"] == {
        "key": "LocalAuthListEnabled",
        "readonly": False,
        "value": "true",
    }
    assert keys["LocalAuthListMaxLength"]["readonly"] is True
    assert keys["SendLocalListMaxLength"]["value"] == "100"
    assert keys["ReserveConnectorZeroSupported"]["value"] == "false"
    assert keys["LocalPreAuthorize"]["value"] == "false"

    bad = await call(central, "ChangeConfiguration", {"key": "LocalPreAuthorize", "value": "maybe"})
    ok = await call(central, "ChangeConfiguration", {"key": "LocalPreAuthorize", "value": "TRUE"})
    measurand = await call(
        central, "ChangeConfiguration", {"key": "MeterValuesSampledData", "value": "Voltage"}
    )
    assert (bad, ok, measurand) == (
        {"status": "Rejected"},
        {"status": "Accepted"},
        {"status": "Rejected"},
    )
    assert charger.configuration.get("LocalPreAuthorize") == "true"


# --------------------------------------------------------------- smart charging


async def composite(
    central: FakeCentral, connector: int, duration: int, unit: str | None = None
) -> Any:
    payload: dict[str, Any] = {"connectorId": connector, "duration": duration}
    if unit is not None:
        payload["chargingRateUnit"] = unit
    return await call(central, "GetCompositeSchedule", payload)


async def set_profile(central: FakeCentral, connector: int, profile: dict[str, Any]) -> str:
    payload = {"connectorId": connector, "csChargingProfiles": profile}
    return str((await call(central, "SetChargingProfile", payload))["status"])


async def test_charging_profiles_make_the_composite_schedule(
    central: FakeCentral, charger: SimCharger16
) -> None:
    assert (await composite(central, 1, 300))["status"] == "Rejected"  # no profile yet

    assert await set_profile(central, 0, max_profile(limit=14.0)) == "Accepted"
    assert await set_profile(central, 1, tx_default([(0, 16.0), (60, 10.0)])) == "Accepted"

    amps = await composite(central, 1, 300, "A")
    assert amps["status"] == "Accepted" and amps["connectorId"] == 1
    schedule = amps["chargingSchedule"]
    assert schedule["duration"] == 300 and schedule["chargingRateUnit"] == "A"
    # the charger's maximum caps the default until the default goes lower
    assert schedule["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 14.0},
        {"startPeriod": 60, "limit": 10.0},
    ]
    watts = await composite(central, 1, 300, "W")
    assert [p["limit"] for p in watts["chargingSchedule"]["chargingSchedulePeriod"]] == [
        14.0 * 230 * 3,
        10.0 * 230 * 3,
    ]
    whole = await composite(central, 0, 300)
    assert whole["chargingSchedule"]["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 14.0}
    ]


async def test_charging_profiles_are_refused_where_they_do_not_belong(
    central: FakeCentral, charger: SimCharger16
) -> None:
    tx_profile = {**tx_default([(0, 16.0)]), "chargingProfilePurpose": "TxProfile"}

    assert await set_profile(central, 1, tx_profile) == "Rejected"  # no transaction
    assert await set_profile(central, 1, max_profile()) == "Rejected"  # not connector 0
    assert await set_profile(central, 9, tx_default([(0, 16.0)])) == "Rejected"
    assert await set_profile(central, 1, tx_default([(0, 16.0)], level=11)) == "Rejected"

    await remote_start(central, charger)
    assert await set_profile(central, 1, {**tx_profile, "transactionId": 42}) == "Accepted"
    assert await set_profile(central, 1, {**tx_profile, "transactionId": 7}) == "Rejected"
    # the TxProfile goes with its transaction
    await call(central, "RemoteStopTransaction", {"transactionId": 42})
    await eventually(lambda: charger.profiles.profiles == [])


async def test_clear_charging_profile_removes_the_matching_ones(
    central: FakeCentral, charger: SimCharger16
) -> None:
    await set_profile(central, 0, max_profile(profile_id=1))
    await set_profile(central, 1, tx_default([(0, 16.0)], profile_id=2))
    await set_profile(central, 1, tx_default([(0, 8.0)], profile_id=3, level=1))

    cleared = await call(central, "ClearChargingProfile", {"id": 3})
    again = await call(central, "ClearChargingProfile", {"id": 3})
    assert (cleared, again) == ({"status": "Accepted"}, {"status": "Unknown"})
    by_purpose = {"chargingProfilePurpose": "TxDefaultProfile", "connectorId": 1}
    assert await call(central, "ClearChargingProfile", by_purpose) == {"status": "Accepted"}
    assert [p.id for p in charger.profiles.profiles] == [1]
    assert await call(central, "ClearChargingProfile", {}) == {"status": "Accepted"}
    assert (await composite(central, 1, 60))["status"] == "Rejected"


async def test_a_remote_start_s_charging_profile_limits_its_session(
    central: FakeCentral, charger: SimCharger16
) -> None:
    profile = {**tx_default([(0, 6.0)], profile_id=9), "chargingProfilePurpose": "TxProfile"}
    wrong = {**profile, "chargingProfilePurpose": "TxDefaultProfile"}
    start = {"idTag": "TAG1", "connectorId": 1}

    refused = await call(central, "RemoteStartTransaction", {**start, "chargingProfile": wrong})
    assert refused == {"status": "Rejected"}
    reply = await call(central, "RemoteStartTransaction", {**start, "chargingProfile": profile})
    assert reply == {"status": "Accepted"}
    await eventually(lambda: charger.connector_status[1] == "Charging")

    schedule = (await composite(central, 1, 60, "A"))["chargingSchedule"]
    assert schedule["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 6.0}]
