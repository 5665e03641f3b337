"""The OCPP 2.0.1 charging station: transactions, availability, reset, triggers, variables, and
every other message a central system can send it."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from shared.framing import OCPP201
from shared.ocpp_schemas import CSMS_ACTIONS
from simulators import SimCharger201
from simulators.clock import iso
from tests.simulators import certs
from tests.simulators.fake_central import FakeCentral, Session, eventually, validator

# Every message an OCPP 2.0.1 central system sends.
CSMS_MESSAGES = sorted(CSMS_ACTIONS[OCPP201])
FIRMWARE = "https://firmware.example.com/evcs/evcs-sim-2.1.bin"
HEARTBEAT = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}

TOKEN = {"idToken": "TAG1", "type": "Central"}


@pytest.fixture
async def central() -> AsyncIterator[FakeCentral]:
    async with FakeCentral() as server:
        yield server
    assert server.invalid == []


@pytest.fixture
async def charger(central: FakeCentral) -> AsyncIterator[SimCharger201]:
    sim = SimCharger201(
        "CS-201", central.url, meter_interval=0.05, reconnect_delay=0.05, step_delay=0.02
    )
    await sim.start()
    yield sim
    await sim.stop()


def session(central: FakeCentral) -> Session:
    return central.session("CS-201")


async def call(central: FakeCentral, action: str, payload: dict[str, Any]) -> Any:
    """Send a CALL to the station and return the CALLRESULT payload, checked against the
    official response schema."""
    reply = await central.call("CS-201", action, payload)
    assert reply[0] == 3, reply
    validator("ocpp2.0.1", action, True)(reply[2])
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
    unknown_variable = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "Crispness"}}
    identity = {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "Identity"}}

    got = await call(
        central, "GetVariables", {"getVariableData": [heartbeat, unknown, unknown_variable]}
    )
    assert [r["attributeStatus"] for r in got["getVariableResult"]] == [
        "Accepted",
        "UnknownComponent",
        "UnknownVariable",
    ]
    assert got["getVariableResult"][0]["attributeValue"] == "60"

    changes = [
        {**heartbeat, "attributeValue": "30"},
        {**identity, "attributeValue": "someone-else"},
        {**unknown_variable, "attributeValue": "3"},
        {**heartbeat, "attributeValue": "soon"},
    ]
    result = await call(central, "SetVariables", {"setVariableData": changes})
    assert [r["attributeStatus"] for r in result["setVariableResult"]] == [
        "Accepted",
        "Rejected",
        "UnknownVariable",
        "Rejected",  # not an integer
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


# ------------------------------------------------------------ every message


def later(seconds: float = 3600) -> str:
    return iso(time.time() + seconds)


def profile(
    profile_id: int,
    purpose: str,
    periods: list[tuple[int, float]],
    level: int = 0,
    unit: str = "A",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "id": profile_id,
        "stackLevel": level,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Relative",
        "chargingSchedule": [
            {
                "id": profile_id,
                "chargingRateUnit": unit,
                "chargingSchedulePeriod": [{"startPeriod": s, "limit": lim} for s, lim in periods],
            }
        ],
        **extra,
    }


def message(message_id: int, content: str = "Welcome", **extra: Any) -> dict[str, Any]:
    return {
        "id": message_id,
        "priority": "NormalCycle",
        "message": {"format": "UTF8", "content": content},
        **extra,
    }


MONITOR = {
    "value": 5000.0,
    "type": "UpperThreshold",
    "severity": 5,
    "component": {"name": "EVSE", "evse": {"id": 1}},
    "variable": {"name": "Power"},
}
NETWORK = {
    "ocppVersion": "OCPP20",
    "ocppTransport": "JSON",
    "ocppCsmsUrl": "wss://csms.example.com/ocpp",
    "messageTimeout": 30,
    "securityProfile": 2,
    "ocppInterface": "Wired0",
}
HASH = {
    "hashAlgorithm": "SHA256",
    "issuerNameHash": "ab",
    "issuerKeyHash": "cd",
    "serialNumber": "1",
}

REQUESTS: dict[str, dict[str, Any]] = {
    "CancelReservation": {"reservationId": 1},
    "CertificateSigned": {"certificateChain": certs.root().pem},
    "ChangeAvailability": {"operationalStatus": "Operative"},
    "ClearCache": {},
    "ClearChargingProfile": {"chargingProfileId": 1},
    "ClearDisplayMessage": {"id": 1},
    "ClearVariableMonitoring": {"id": [1, 2]},
    "CostUpdated": {"totalCost": 1.25, "transactionId": "tx-1"},
    "CustomerInformation": {
        "requestId": 1,
        "report": True,
        "clear": False,
        "customerIdentifier": "C-1",
    },
    "DataTransfer": {"vendorId": "com.example", "data": {"any": "thing"}},
    "DeleteCertificate": {"certificateHashData": HASH},
    "GetBaseReport": {"requestId": 1, "reportBase": "SummaryInventory"},
    "GetChargingProfiles": {
        "requestId": 1,
        "chargingProfile": {"chargingProfilePurpose": "TxProfile"},
    },
    "GetCompositeSchedule": {"duration": 600, "evseId": 1},
    "GetDisplayMessages": {"requestId": 1},
    "GetInstalledCertificateIds": {"certificateType": ["CSMSRootCertificate"]},
    "GetLocalListVersion": {},
    "GetLog": {
        "log": {"remoteLocation": "https://logs.example.com/in"},
        "logType": "DiagnosticsLog",
        "requestId": 1,
    },
    "GetMonitoringReport": {"requestId": 1},
    "GetReport": {"requestId": 1, "componentVariable": [{"component": {"name": "OCPPCommCtrlr"}}]},
    "GetTransactionStatus": {"transactionId": "tx-1"},
    "GetVariables": {"getVariableData": [HEARTBEAT]},
    "InstallCertificate": {
        "certificateType": "CSMSRootCertificate",
        "certificate": certs.root().pem,
    },
    "PublishFirmware": {
        "location": FIRMWARE,
        "checksum": "0123456789abcdef0123456789abcdef",
        "requestId": 1,
    },
    "RequestStartTransaction": {"idToken": TOKEN, "remoteStartId": 1},
    "RequestStopTransaction": {"transactionId": "tx-1"},
    "ReserveNow": {"id": 1, "expiryDateTime": later(), "idToken": TOKEN, "evseId": 1},
    "Reset": {"type": "OnIdle"},
    "SendLocalList": {"versionNumber": 1, "updateType": "Full"},
    "SetChargingProfile": {
        "evseId": 1,
        "chargingProfile": profile(1, "TxDefaultProfile", [(0, 16.0)]),
    },
    "SetDisplayMessage": {"message": message(1)},
    "SetMonitoringBase": {"monitoringBase": "All"},
    "SetMonitoringLevel": {"severity": 5},
    "SetNetworkProfile": {"configurationSlot": 1, "connectionData": NETWORK},
    "SetVariableMonitoring": {"setMonitoringData": [MONITOR]},
    "SetVariables": {"setVariableData": [{**HEARTBEAT, "attributeValue": "60"}]},
    "TriggerMessage": {"requestedMessage": "Heartbeat"},
    "UnlockConnector": {"evseId": 1, "connectorId": 1},
    "UnpublishFirmware": {"checksum": "0123456789abcdef0123456789abcdef"},
    "UpdateFirmware": {
        "requestId": 1,
        "firmware": {"location": FIRMWARE, "retrieveDateTime": iso(time.time())},
    },
}


def test_the_station_handles_every_message_of_a_central_system() -> None:
    station = SimCharger201("CS-X", "ws://127.0.0.1:1/ocpp")

    assert sorted(station.handlers) == sorted(CSMS_MESSAGES) == sorted(REQUESTS)


@pytest.mark.parametrize("action", CSMS_MESSAGES)
async def test_every_message_gets_an_answer_valid_against_the_official_schema(
    central: FakeCentral, charger: SimCharger201, action: str
) -> None:
    validator("ocpp2.0.1", action, False)(REQUESTS[action])

    await call(central, action, REQUESTS[action])  # checks the answer against the schema

    assert central.invalid == []


# ------------------------------------------------------ local authorization list


def token_entry(tag: str, status: str | None = "Accepted") -> dict[str, Any]:
    item: dict[str, Any] = {"idToken": {"idToken": tag, "type": "ISO14443"}}
    if status is not None:
        item["idTokenInfo"] = {"status": status}
    return item


async def send_list(
    central: FakeCentral, version: int, update: str, entries: list[dict[str, Any]]
) -> str:
    payload: dict[str, Any] = {"versionNumber": version, "updateType": update}
    if entries:
        payload["localAuthorizationList"] = entries
    return str((await call(central, "SendLocalList", payload))["status"])


async def list_version(central: FakeCentral) -> int:
    return int((await call(central, "GetLocalListVersion", {}))["versionNumber"])


async def test_local_list_full_and_differential_updates_keep_a_version(
    central: FakeCentral, charger: SimCharger201
) -> None:
    assert await list_version(central) == 0

    assert await send_list(central, 3, "Full", [token_entry("A"), token_entry("B")]) == "Accepted"
    assert await send_list(central, 3, "Differential", [token_entry("C")]) == "VersionMismatch"
    assert (
        await send_list(
            central, 4, "Differential", [token_entry("B", None), token_entry("C", "Blocked")]
        )
        == "Accepted"
    )

    assert await list_version(central) == 4
    assert {key[0]: info["status"] for key, info in charger.local_list.entries.items()} == {
        "A": "Accepted",
        "C": "Blocked",
    }
    assert await send_list(central, 5, "Full", [token_entry("D", None)]) == "Failed"
    assert await list_version(central) == 4


async def test_authorize_takes_the_local_list_s_word_with_local_pre_authorize(
    central: FakeCentral, charger: SimCharger201
) -> None:
    central.replies["Authorize"] = {"idTokenInfo": {"status": "Unknown"}}
    await send_list(central, 1, "Full", [token_entry("LISTED")])
    assert await charger.authorize("LISTED") == "Unknown"  # by default the CSMS is asked

    setting = {
        "component": {"name": "AuthCtrlr"},
        "variable": {"name": "LocalPreAuthorize"},
        "attributeValue": "true",
    }
    await call(central, "SetVariables", {"setVariableData": [setting]})
    asked = session(central).actions().count("Authorize")
    assert await charger.authorize("LISTED") == "Accepted"
    assert session(central).actions().count("Authorize") == asked


# ------------------------------------------------------------------- reservations


async def reserve(
    central: FakeCentral,
    reservation_id: int,
    evse: int | None = 1,
    tag: str = "TAG1",
    ttl: float = 3600,
) -> str:
    payload: dict[str, Any] = {
        "id": reservation_id,
        "expiryDateTime": later(ttl),
        "idToken": {"idToken": tag, "type": "Central"},
    }
    if evse is not None:
        payload["evseId"] = evse
    return str((await call(central, "ReserveNow", payload))["status"])


async def test_reserve_now_reports_reserved_and_cancel_reservation_frees_the_evse(
    central: FakeCentral, charger: SimCharger201
) -> None:
    assert await reserve(central, 1) == "Accepted"
    await eventually(lambda: session(central).statuses()[-1] == (1, "Reserved"))
    assert await reserve(central, 2) == "Occupied"
    assert await reserve(central, 3, evse=5) == "Rejected"
    someone_else = {"idToken": {"idToken": "OTHER", "type": "Central"}, "remoteStartId": 1}
    assert await call(central, "RequestStartTransaction", someone_else) == {"status": "Rejected"}

    assert await call(central, "CancelReservation", {"reservationId": 1}) == {"status": "Accepted"}
    await eventually(lambda: session(central).statuses()[-1] == (1, "Available"))
    assert await call(central, "CancelReservation", {"reservationId": 1}) == {"status": "Rejected"}


async def test_a_reservation_for_any_evse_holds_a_free_one(
    central: FakeCentral, charger: SimCharger201
) -> None:
    assert await reserve(central, 1, evse=None) == "Accepted"
    await eventually(lambda: charger.connector_status[1] == "Reserved")

    assert await reserve(central, 2, evse=None) == "Occupied"  # the only EVSE is held


async def test_the_reserved_token_takes_up_the_reservation(
    central: FakeCentral, charger: SimCharger201
) -> None:
    assert await reserve(central, 9, tag="TAG1") == "Accepted"

    await remote_start(central, charger)

    assert events(central, "Started")[0]["reservationId"] == 9
    assert charger.reservations == {}


async def test_an_expired_reservation_is_reported_and_the_evse_freed(
    central: FakeCentral, charger: SimCharger201
) -> None:
    assert await reserve(central, 4, ttl=1.0) == "Accepted"

    await eventually(lambda: session(central).payloads("ReservationStatusUpdate") != [])
    assert session(central).payloads("ReservationStatusUpdate") == [
        {"reservationId": 4, "reservationUpdateStatus": "Expired"}
    ]
    await eventually(lambda: session(central).statuses()[-1] == (1, "Available"))
    assert session(central).statuses()[-2:] == [(1, "Reserved"), (1, "Available")]


# ----------------------------------------------------------------------- firmware


def firmware_statuses(central: FakeCentral, index: int = 0) -> list[str]:
    return [
        p["status"] for p in central.session("CS-201", index).payloads("FirmwareStatusNotification")
    ]


async def update_firmware(central: FakeCentral, request_id: int = 5, **firmware: Any) -> Any:
    payload = {
        "requestId": request_id,
        "firmware": {"location": FIRMWARE, "retrieveDateTime": later(-1), **firmware},
    }
    return await call(central, "UpdateFirmware", payload)


async def test_update_firmware_reports_each_step_reboots_and_reports_it_installed(
    central: FakeCentral, charger: SimCharger201
) -> None:
    assert await update_firmware(central) == {"status": "Accepted"}

    await eventually(
        lambda: len(central.sessions) == 2 and firmware_statuses(central, 1) == ["Installed"],
        timeout=10,
    )
    assert firmware_statuses(central, 0) == [
        "Downloading",
        "Downloaded",
        "Installing",
        "InstallRebooting",
    ]
    assert {
        p.get("requestId") for p in central.payloads("CS-201", "FirmwareStatusNotification")
    } == {5}
    boot = central.sessions[1].payloads("BootNotification")[0]
    assert boot["reason"] == "FirmwareUpdate"
    assert boot["chargingStation"]["firmwareVersion"] == "evcs-sim-2.1.bin"

    await eventually(lambda: charger.firmware_status == "Idle")
    await call(central, "TriggerMessage", {"requestedMessage": "FirmwareStatusNotification"})
    await eventually(lambda: firmware_statuses(central, 1) == ["Installed", "Idle"])
    assert central.sessions[1].payloads("FirmwareStatusNotification")[-1] == {"status": "Idle"}


async def test_a_scheduled_signed_firmware_update_reports_so(
    central: FakeCentral, charger: SimCharger201
) -> None:
    signed = {
        "retrieveDateTime": later(1.0),
        "installDateTime": later(1.5),
        "signature": "c2ln",
        "signingCertificate": certs.root().pem,
    }

    assert await update_firmware(central, **signed) == {"status": "Accepted"}

    await eventually(lambda: len(central.sessions) == 2 and charger.booted, timeout=10)
    assert firmware_statuses(central, 0) == [
        "DownloadScheduled",
        "Downloading",
        "Downloaded",
        "SignatureVerified",
        "InstallScheduled",
        "Installing",
        "InstallRebooting",
    ]


async def test_a_new_update_cancels_the_one_going_on(
    central: FakeCentral, charger: SimCharger201
) -> None:
    assert await update_firmware(central, 1, retrieveDateTime=later(60)) == {"status": "Accepted"}
    await eventually(lambda: firmware_statuses(central) == ["DownloadScheduled"])

    assert await update_firmware(central, 2) == {"status": "AcceptedCanceled"}
    await eventually(lambda: len(central.sessions) == 2 and charger.booted, timeout=10)
    bad = await update_firmware(central, 3, signingCertificate="not a certificate")
    assert bad == {"status": "InvalidCertificate"}


async def test_publish_and_unpublish_firmware(central: FakeCentral, charger: SimCharger201) -> None:
    checksum = "0123456789abcdef0123456789abcdef"
    publish = {"location": FIRMWARE, "checksum": checksum, "requestId": 8}
    assert await call(central, "UnpublishFirmware", {"checksum": checksum}) == {
        "status": "NoFirmware"
    }

    assert await call(central, "PublishFirmware", publish) == {"status": "Accepted"}

    def notes() -> list[dict[str, Any]]:
        return session(central).payloads("PublishFirmwareStatusNotification")

    await eventually(lambda: notes() and notes()[-1]["status"] == "Published")
    assert [n["status"] for n in notes()] == [
        "Downloading",
        "Downloaded",
        "ChecksumVerified",
        "Published",
    ]
    assert notes()[-1]["location"] == [f"http://CS-201.local/firmware/{checksum}"]
    assert {n["requestId"] for n in notes()} == {8}
    assert await call(central, "UnpublishFirmware", {"checksum": "f" * 32}) == {
        "status": "NoFirmware"
    }
    assert await call(central, "UnpublishFirmware", {"checksum": checksum}) == {
        "status": "Unpublished"
    }


async def test_get_log_names_the_file_and_reports_the_upload(
    central: FakeCentral, charger: SimCharger201
) -> None:
    request = {
        "log": {"remoteLocation": "https://logs.example.com/in"},
        "logType": "SecurityLog",
        "requestId": 12,
    }

    reply = await call(central, "GetLog", request)

    assert reply["status"] == "Accepted" and reply["filename"].startswith("SecurityLog-CS-201-")
    await eventually(lambda: len(session(central).payloads("LogStatusNotification")) == 2)
    assert session(central).payloads("LogStatusNotification") == [
        {"status": "Uploading", "requestId": 12},
        {"status": "Uploaded", "requestId": 12},
    ]


# ------------------------------------------------------------- triggers, status


@pytest.mark.parametrize(
    ("message", "sent"),
    [
        ("LogStatusNotification", {"status": "Idle"}),
        ("FirmwareStatusNotification", {"status": "Idle"}),
        ("PublishFirmwareStatusNotification", {"status": "Idle"}),
    ],
)
async def test_triggered_status_notifications_say_idle_when_nothing_goes_on(
    central: FakeCentral, charger: SimCharger201, message: str, sent: dict[str, Any]
) -> None:
    reply = await call(central, "TriggerMessage", {"requestedMessage": message})

    assert reply == {"status": "Accepted"}
    await eventually(lambda: session(central).payloads(message) == [sent])


async def test_a_triggered_boot_notification_says_so(
    central: FakeCentral, charger: SimCharger201
) -> None:
    reply = await call(central, "TriggerMessage", {"requestedMessage": "BootNotification"})

    assert reply == {"status": "Accepted"}
    await eventually(lambda: len(session(central).payloads("BootNotification")) == 2)
    assert session(central).payloads("BootNotification")[-1]["reason"] == "Triggered"


@pytest.mark.parametrize(
    ("message", "uses"),
    [
        ("SignChargingStationCertificate", ["ChargingStationCertificate"]),
        ("SignV2GCertificate", ["V2GCertificate"]),
        ("SignCombinedCertificate", ["ChargingStationCertificate", "V2GCertificate"]),
    ],
)
async def test_a_triggered_signing_request_sends_a_csr_for_the_station(
    central: FakeCentral, charger: SimCharger201, message: str, uses: list[str]
) -> None:
    reply = await call(central, "TriggerMessage", {"requestedMessage": message})

    assert reply == {"status": "Accepted"}
    await eventually(lambda: len(session(central).payloads("SignCertificate")) == len(uses))
    requests = session(central).payloads("SignCertificate")
    assert [r["certificateType"] for r in requests] == uses
    csr = x509.load_pem_x509_csr(requests[0]["csr"].encode())
    assert csr.is_signature_valid
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "CS-201"


async def test_the_certificate_signed_for_the_csr_is_accepted(
    central: FakeCentral, charger: SimCharger201
) -> None:
    ca = certs.issue("CSMS CA")
    await call(central, "TriggerMessage", {"requestedMessage": "SignChargingStationCertificate"})
    await eventually(lambda: session(central).payloads("SignCertificate") != [])
    csr = session(central).payloads("SignCertificate")[0]["csr"]

    # a certificate for some other key is not the one asked for
    stranger = certs.issue("CS-201", issuer=ca)
    refused = await call(central, "CertificateSigned", {"certificateChain": stranger.pem + ca.pem})
    assert refused == {"status": "Rejected"}
    signed = certs.sign_csr(csr, ca)
    chain = {
        "certificateChain": signed.pem + ca.pem,
        "certificateType": "ChargingStationCertificate",
    }
    assert await call(central, "CertificateSigned", chain) == {"status": "Accepted"}
    assert [i.use for i in charger.certificates.installed] == ["ChargingStationCertificate"]


async def test_a_trigger_for_a_message_outside_the_spec_is_not_implemented(
    central: FakeCentral, charger: SimCharger201
) -> None:
    reply = await central.call(
        "CS-201", "TriggerMessage", {"requestedMessage": "Coffee"}, check=False
    )

    assert reply[2] == {"status": "NotImplemented"}


async def test_get_transaction_status_follows_the_transaction(
    central: FakeCentral, charger: SimCharger201
) -> None:
    transaction_id = await remote_start(central, charger)

    ongoing = await call(central, "GetTransactionStatus", {"transactionId": transaction_id})
    assert ongoing == {"messagesInQueue": False, "ongoingIndicator": True}
    assert await call(central, "GetTransactionStatus", {}) == {"messagesInQueue": False}

    await call(central, "CostUpdated", {"totalCost": 3.5, "transactionId": transaction_id})
    assert charger.costs == {transaction_id: 3.5}
    await call(central, "RequestStopTransaction", {"transactionId": transaction_id})
    await eventually(lambda: charger.transactions == {})
    over = await call(central, "GetTransactionStatus", {"transactionId": transaction_id})
    assert over == {"messagesInQueue": False, "ongoingIndicator": False}


async def test_unlock_connector_refuses_unknown_connectors_and_running_sessions(
    central: FakeCentral, charger: SimCharger201
) -> None:
    assert await call(central, "UnlockConnector", {"evseId": 2, "connectorId": 1}) == {
        "status": "UnknownConnector"
    }
    assert await call(central, "UnlockConnector", {"evseId": 1, "connectorId": 2}) == {
        "status": "UnknownConnector"
    }
    await remote_start(central, charger)
    busy = await call(central, "UnlockConnector", {"evseId": 1, "connectorId": 1})
    assert busy == {"status": "OngoingAuthorizedTransaction"}


async def test_set_network_profile_keeps_the_slot_in_use(
    central: FakeCentral, charger: SimCharger201
) -> None:
    accepted = await call(
        central, "SetNetworkProfile", {"configurationSlot": 1, "connectionData": NETWORK}
    )
    in_use = await call(
        central, "SetNetworkProfile", {"configurationSlot": 0, "connectionData": NETWORK}
    )
    unknown = await call(
        central, "SetNetworkProfile", {"configurationSlot": 7, "connectionData": NETWORK}
    )

    assert (accepted, in_use, unknown) == (
        {"status": "Accepted"},
        {"status": "Rejected"},
        {"status": "Rejected"},
    )
    assert charger.network_profiles == {1: NETWORK}


async def test_customer_information_is_sent_in_a_notify_customer_information(
    central: FakeCentral, charger: SimCharger201
) -> None:
    await send_list(central, 1, "Full", [token_entry("CUSTOMER")])
    request = {
        "requestId": 3,
        "report": True,
        "clear": True,
        "idToken": {"idToken": "CUSTOMER", "type": "ISO14443"},
    }

    assert await call(central, "CustomerInformation", request) == {"status": "Accepted"}

    await eventually(lambda: session(central).payloads("NotifyCustomerInformation") != [])
    note = session(central).payloads("NotifyCustomerInformation")[0]
    assert note["requestId"] == 3 and note["seqNo"] == 0
    assert "CUSTOMER: local list Accepted" in note["data"] and "cleared" in note["data"]
    nobody = {"requestId": 4, "report": True, "clear": False}
    assert await call(central, "CustomerInformation", nobody) == {"status": "Invalid"}


# ---------------------------------------------------------- device model reports


def reports(central: FakeCentral, request_id: int) -> list[dict[str, Any]]:
    return [r for r in session(central).payloads("NotifyReport") if r["requestId"] == request_id]


def reported(frames: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [
        (d["component"]["name"], d["variable"]["name"])
        for f in frames
        for d in f.get("reportData", [])
    ]


async def test_get_base_report_sends_the_whole_device_model_in_notify_report_frames(
    central: FakeCentral, charger: SimCharger201
) -> None:
    assert await call(
        central, "GetBaseReport", {"requestId": 21, "reportBase": "FullInventory"}
    ) == {"status": "Accepted"}

    await eventually(lambda: reports(central, 21) and not reports(central, 21)[-1].get("tbc"))
    frames = reports(central, 21)
    assert len(frames) > 1
    assert [f["seqNo"] for f in frames] == list(range(len(frames)))
    assert all(f["tbc"] for f in frames[:-1])
    items = reported(frames)
    assert len(items) == len(charger.device_model.variables)
    assert ("OCPPCommCtrlr", "HeartbeatInterval") in items
    heartbeat = next(
        d for f in frames for d in f["reportData"] if d["variable"]["name"] == "HeartbeatInterval"
    )
    assert heartbeat["variableAttribute"] == [
        {
            "type": "Actual",
            "mutability": "ReadWrite",
            "persistent": True,
            "value": "60",
            "constant": False,
        }
    ]
    assert heartbeat["variableCharacteristics"]["dataType"] == "integer"


async def test_base_reports_of_configuration_and_summary(
    central: FakeCentral, charger: SimCharger201
) -> None:
    await call(central, "GetBaseReport", {"requestId": 1, "reportBase": "ConfigurationInventory"})
    await call(central, "GetBaseReport", {"requestId": 2, "reportBase": "SummaryInventory"})

    await eventually(
        lambda: (
            reports(central, 1) and reports(central, 2) and not reports(central, 1)[-1].get("tbc")
        )
    )
    configurable = [d for f in reports(central, 1) for d in f["reportData"]]
    assert all(d["variableAttribute"][0]["mutability"] != "ReadOnly" for d in configurable)
    summary = reported(reports(central, 2))
    assert sorted(summary) == [
        ("ChargingStation", "AvailabilityState"),
        ("Connector", "AvailabilityState"),
        ("EVSE", "AvailabilityState"),
    ]


async def test_get_report_selects_components_variables_and_criteria(
    central: FakeCentral, charger: SimCharger201
) -> None:
    one = {"requestId": 31, "componentVariable": [HEARTBEAT]}
    whole = {"requestId": 32, "componentVariable": [{"component": {"name": "ReservationCtrlr"}}]}
    enabled = {"requestId": 33, "componentCriteria": ["Enabled"]}
    none = {"requestId": 34, "componentVariable": [{"component": {"name": "Toaster"}}]}
    problem = {"requestId": 35, "componentCriteria": ["Problem"]}

    for request in (one, whole, enabled):
        assert await call(central, "GetReport", request) == {"status": "Accepted"}
    for request in (none, problem):
        assert await call(central, "GetReport", request) == {"status": "EmptyResultSet"}

    await eventually(
        lambda: all(
            reports(central, r) and not reports(central, r)[-1].get("tbc") for r in (31, 32, 33)
        )
    )
    assert reported(reports(central, 31)) == [("OCPPCommCtrlr", "HeartbeatInterval")]
    assert {name for _, name in reported(reports(central, 32))} == {
        "Available",
        "Enabled",
        "NonEvseSpecific",
    }
    components = {c for c, _ in reported(reports(central, 33))}
    assert "SmartChargingCtrlr" in components and "OCPPCommCtrlr" not in components
    assert reports(central, 34) == reports(central, 35) == []


async def test_live_variables_follow_the_station(
    central: FakeCentral, charger: SimCharger201
) -> None:
    state = {
        "component": {"name": "EVSE", "evse": {"id": 1}},
        "variable": {"name": "AvailabilityState"},
    }
    power = {"component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "Power"}}

    async def values() -> list[str]:
        got = await call(central, "GetVariables", {"getVariableData": [state, power]})
        return [r["attributeValue"] for r in got["getVariableResult"]]

    assert await values() == ["Available", "0.0"]
    await remote_start(central, charger)
    assert await values() == ["Occupied", "11000.0"]


# -------------------------------------------------------------------- monitoring


async def test_variable_monitors_are_set_reported_and_cleared(
    central: FakeCentral, charger: SimCharger201
) -> None:
    flag = {"component": {"name": "AuthCtrlr"}, "variable": {"name": "Enabled"}}
    data = [
        MONITOR,
        {**MONITOR, "type": "Delta", "value": 100.0},
        MONITOR,  # the same type and severity on the same variable again
        {**MONITOR, "component": {"name": "Toaster"}},
        {**MONITOR, "variable": {"name": "Crispness"}},
        {**MONITOR, **flag},  # a threshold on a boolean
        {**MONITOR, "id": 99},  # no monitor 99 to replace
    ]

    result = await call(central, "SetVariableMonitoring", {"setMonitoringData": data})

    statuses = [r["status"] for r in result["setMonitoringResult"]]
    assert statuses == [
        "Accepted",
        "Accepted",
        "Duplicate",
        "UnknownComponent",
        "UnknownVariable",
        "UnsupportedMonitorType",
        "Rejected",
    ]
    first, second = (r["id"] for r in result["setMonitoringResult"][:2])

    report = {"requestId": 41, "monitoringCriteria": ["ThresholdMonitoring"]}
    assert await call(central, "GetMonitoringReport", report) == {"status": "Accepted"}
    await eventually(lambda: session(central).payloads("NotifyMonitoringReport") != [])
    sent = session(central).payloads("NotifyMonitoringReport")[0]
    assert sent["requestId"] == 41 and sent["seqNo"] == 0
    assert sent["monitor"] == [
        {
            "component": {"name": "EVSE", "evse": {"id": 1}},
            "variable": {"name": "Power"},
            "variableMonitoring": [
                {
                    "id": first,
                    "transaction": False,
                    "value": 5000.0,
                    "type": "UpperThreshold",
                    "severity": 5,
                }
            ],
        }
    ]

    cleared = await call(central, "ClearVariableMonitoring", {"id": [first, 12345]})
    assert cleared == {
        "clearMonitoringResult": [
            {"id": first, "status": "Accepted"},
            {"id": 12345, "status": "NotFound"},
        ]
    }
    assert list(charger.monitors.monitors) == [second]
    assert await call(central, "SetMonitoringBase", {"monitoringBase": "HardWiredOnly"}) == {
        "status": "Accepted"
    }
    assert charger.monitors.monitors == {}
    assert await call(central, "GetMonitoringReport", {"requestId": 42}) == {
        "status": "EmptyResultSet"
    }


async def test_monitoring_level_is_a_severity(central: FakeCentral, charger: SimCharger201) -> None:
    assert await call(central, "SetMonitoringLevel", {"severity": 3}) == {"status": "Accepted"}
    assert await call(central, "SetMonitoringLevel", {"severity": 10}) == {"status": "Rejected"}
    level = {
        "component": {"name": "MonitoringCtrlr"},
        "variable": {"name": "ActiveMonitoringLevel"},
    }
    got = await call(central, "GetVariables", {"getVariableData": [level]})
    assert got["getVariableResult"][0]["attributeValue"] == "3"


# -------------------------------------------------------------- display messages


async def test_display_messages_are_set_listed_and_cleared(
    central: FakeCentral, charger: SimCharger201
) -> None:
    assert await call(central, "GetDisplayMessages", {"requestId": 1}) == {"status": "Unknown"}
    assert await call(central, "SetDisplayMessage", {"message": message(1)}) == {
        "status": "Accepted"
    }
    urgent = message(2, "Out of order soon", priority="AlwaysFront", state="Idle")
    assert await call(central, "SetDisplayMessage", {"message": urgent}) == {"status": "Accepted"}
    html = message(3, "<b>hi</b>")
    html["message"]["format"] = "HTML"
    assert await call(central, "SetDisplayMessage", {"message": html}) == {
        "status": "NotSupportedMessageFormat"
    }
    about = message(4, transactionId="no-such-transaction")
    assert await call(central, "SetDisplayMessage", {"message": about}) == {
        "status": "UnknownTransaction"
    }

    assert await call(
        central, "GetDisplayMessages", {"requestId": 7, "priority": "AlwaysFront"}
    ) == {"status": "Accepted"}
    await eventually(lambda: session(central).payloads("NotifyDisplayMessages") != [])
    assert session(central).payloads("NotifyDisplayMessages") == [
        {"requestId": 7, "messageInfo": [urgent]}
    ]

    assert await call(central, "ClearDisplayMessage", {"id": 2}) == {"status": "Accepted"}
    assert await call(central, "ClearDisplayMessage", {"id": 2}) == {"status": "Unknown"}
    assert list(charger.display.messages) == [1]


async def test_a_message_about_a_transaction_goes_when_it_ends(
    central: FakeCentral, charger: SimCharger201
) -> None:
    transaction_id = await remote_start(central, charger)
    about = message(5, "Charging with green power", transactionId=transaction_id)
    assert await call(central, "SetDisplayMessage", {"message": about}) == {"status": "Accepted"}

    await call(central, "RequestStopTransaction", {"transactionId": transaction_id})

    await eventually(lambda: charger.display.messages == {})


# ------------------------------------------------------------------ certificates


async def test_installed_certificates_are_listed_and_deleted_by_their_hashes(
    central: FakeCentral, charger: SimCharger201
) -> None:
    csms_root, v2g_root = certs.issue("CSMS Root"), certs.issue("V2G Root", serial=0x00AB)
    for use, cert in (("CSMSRootCertificate", csms_root), ("V2GRootCertificate", v2g_root)):
        reply = await call(
            central, "InstallCertificate", {"certificateType": use, "certificate": cert.pem}
        )
        assert reply == {"status": "Accepted"}
    garbage = {
        "certificateType": "MORootCertificate",
        "certificate": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
    }
    assert await call(central, "InstallCertificate", garbage) == {"status": "Rejected"}

    listed = await call(
        central, "GetInstalledCertificateIds", {"certificateType": ["V2GRootCertificate"]}
    )
    assert listed == {
        "status": "Accepted",
        "certificateHashDataChain": [
            {
                "certificateType": "V2GRootCertificate",
                "certificateHashData": certs.hash_data(v2g_root),
            }
        ],
    }
    everything = await call(central, "GetInstalledCertificateIds", {})
    assert len(everything["certificateHashDataChain"]) == 2
    missing = await call(
        central, "GetInstalledCertificateIds", {"certificateType": ["MORootCertificate"]}
    )
    assert missing == {"status": "NotFound"}

    sha512 = certs.hash_data(csms_root, algorithm="SHA512")
    assert await call(central, "DeleteCertificate", {"certificateHashData": sha512}) == {
        "status": "Accepted"
    }
    assert await call(central, "DeleteCertificate", {"certificateHashData": sha512}) == {
        "status": "NotFound"
    }
    assert [i.use for i in charger.certificates.installed] == ["V2GRootCertificate"]


async def test_a_signed_certificate_is_kept(central: FakeCentral, charger: SimCharger201) -> None:
    ca = certs.issue("Sub CA")
    leaf = certs.issue("CS-201", issuer=ca)

    chain = {"certificateChain": leaf.pem + ca.pem, "certificateType": "V2GCertificate"}
    assert await call(central, "CertificateSigned", chain) == {"status": "Accepted"}
    assert await call(central, "CertificateSigned", {"certificateChain": "nope"}) == {
        "status": "Rejected"
    }

    listed = await call(
        central, "GetInstalledCertificateIds", {"certificateType": ["V2GCertificateChain"]}
    )
    assert listed["certificateHashDataChain"] == [
        {
            "certificateType": "V2GCertificateChain",
            "certificateHashData": certs.hash_data(leaf, ca),
            "childCertificateHashData": [certs.hash_data(ca)],
        }
    ]


# --------------------------------------------------------------- smart charging


async def set_profile(central: FakeCentral, evse: int, charging_profile: dict[str, Any]) -> str:
    reply = await call(
        central, "SetChargingProfile", {"evseId": evse, "chargingProfile": charging_profile}
    )
    return str(reply["status"])


async def test_charging_profiles_are_stored_reported_and_make_the_composite_schedule(
    central: FakeCentral, charger: SimCharger201
) -> None:
    assert (await call(central, "GetCompositeSchedule", {"duration": 300, "evseId": 1}))[
        "status"
    ] == "Rejected"
    station_max = profile(1, "ChargingStationMaxProfile", [(0, 11000.0)], unit="W")
    default = profile(2, "TxDefaultProfile", [(0, 32.0), (120, 8.0)])
    assert await set_profile(central, 0, station_max) == "Accepted"
    assert await set_profile(central, 1, default) == "Accepted"

    got = await call(
        central, "GetCompositeSchedule", {"duration": 300, "evseId": 1, "chargingRateUnit": "A"}
    )
    assert got["status"] == "Accepted"
    schedule = got["schedule"]
    assert (schedule["evseId"], schedule["duration"], schedule["chargingRateUnit"]) == (1, 300, "A")
    # 11 kW is 15.942 A on three phases of 230 V: the station's maximum caps the default's 32 A
    assert schedule["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 15.942},
        {"startPeriod": 120, "limit": 8.0},
    ]

    assert await call(central, "GetChargingProfiles", {"requestId": 51, "chargingProfile": {}}) == {
        "status": "Accepted"
    }
    await eventually(lambda: len(session(central).payloads("ReportChargingProfiles")) == 2)
    frames = session(central).payloads("ReportChargingProfiles")
    assert [(f["evseId"], f.get("tbc", False), f["chargingProfile"]) for f in frames] == [
        (0, True, [station_max]),
        (1, False, [default]),
    ]
    assert {f["requestId"] for f in frames} == {51} and {
        f["chargingLimitSource"] for f in frames
    } == {"CSO"}
    only_tx = {"requestId": 52, "chargingProfile": {"chargingProfilePurpose": "TxProfile"}}
    assert await call(central, "GetChargingProfiles", only_tx) == {"status": "NoProfiles"}
    other_source = {"requestId": 53, "chargingProfile": {"chargingLimitSource": ["EMS"]}}
    assert await call(central, "GetChargingProfiles", other_source) == {"status": "NoProfiles"}

    clear = {"chargingProfileCriteria": {"evseId": 1, "chargingProfilePurpose": "TxDefaultProfile"}}
    assert await call(central, "ClearChargingProfile", clear) == {"status": "Accepted"}
    assert await call(central, "ClearChargingProfile", clear) == {"status": "Unknown"}
    assert [p.id for p in charger.profiles.profiles] == [1]


async def test_a_tx_profile_names_the_running_transaction(
    central: FakeCentral, charger: SimCharger201
) -> None:
    tx_profile = profile(3, "TxProfile", [(0, 10.0)])
    assert await set_profile(central, 1, tx_profile) == "Rejected"  # no transaction running

    transaction_id = await remote_start(central, charger)
    assert await set_profile(central, 1, tx_profile) == "Rejected"  # K01.FR.03: no transactionId
    assert await set_profile(central, 1, {**tx_profile, "transactionId": "other"}) == "Rejected"
    assert (
        await set_profile(central, 1, {**tx_profile, "transactionId": transaction_id}) == "Accepted"
    )
    external = profile(4, "ChargingStationExternalConstraints", [(0, 10.0)])
    assert await set_profile(central, 0, external) == "Rejected"

    await call(central, "RequestStopTransaction", {"transactionId": transaction_id})
    await eventually(lambda: charger.profiles.profiles == [])
