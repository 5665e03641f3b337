"""Conformance: every charger-initiated message and every command of both versions through a
real node, with every frame the csms sends checked strictly against the official schemas
(RawCharger does that on each read; see tests/csms/strict.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from csms.server import CsmsApp
from shared.bus import Action, Outcome
from tests.csms import strict
from tests.csms.conftest import Command, Connect, RawCharger

TS = "2026-01-01T00:00:00Z"
CSR = "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----"
PROFILE = {
    "id": 1,
    "stackLevel": 0,
    "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Absolute",
    "chargingSchedule": [
        {
            "id": 1,
            "chargingRateUnit": "W",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000.0}],
        }
    ],
}


def _energy16(value: str, unit: str, context: str = "Sample.Periodic") -> list[dict[str, Any]]:
    return [
        {
            "timestamp": TS,
            "sampledValue": [
                {
                    "value": value,
                    "unit": unit,
                    "context": context,
                    "measurand": "Energy.Active.Import.Register",
                }
            ],
        }
    ]


def _energy201(value: float, unit: str = "Wh") -> list[dict[str, Any]]:
    return [
        {
            "timestamp": TS,
            "sampledValue": [
                {
                    "value": value,
                    "measurand": "Energy.Active.Import.Register",
                    "unitOfMeasure": {"unit": unit},
                }
            ],
        }
    ]


def _tx201(kind: str, seq: int, **extra: Any) -> dict[str, Any]:
    return {
        "eventType": kind,
        "timestamp": TS,
        "triggerReason": {"Started": "Authorized", "Updated": "MeterValuePeriodic"}.get(
            kind, "StopAuthorized"
        ),
        "seqNo": seq,
        "transactionInfo": {"transactionId": "tx-conf-1", "chargingState": "Charging"},
        "evse": {"id": 1, "connectorId": 1},
        **extra,
    }


# (action, payload, what the answer must hold beyond its schema)
MESSAGES_16: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "BootNotification",
        {"chargePointVendor": "ACME", "chargePointModel": "X1", "firmwareVersion": "1.0"},
        {"status": "Accepted"},
    ),
    ("Heartbeat", {}, {}),
    (
        "StatusNotification",
        {"connectorId": 1, "errorCode": "NoError", "status": "Preparing", "timestamp": TS},
        {},
    ),
    ("MeterValues", {"connectorId": 1, "meterValue": _energy16("1500", "Wh")}, {}),
    ("Authorize", {"idTag": "TAG1"}, {"idTagInfo": {"status": "Accepted"}}),
    (
        "StartTransaction",
        {"connectorId": 1, "idTag": "TAG1", "meterStart": 1000, "timestamp": TS},
        {"idTagInfo": {"status": "Accepted"}},
    ),
    (
        "StopTransaction",
        {
            "transactionId": 0,  # replaced by the id StartTransaction got
            "meterStop": 2500,
            "timestamp": TS,
            "idTag": "TAG1",
            "reason": "Local",
            "transactionData": _energy16("2.5", "kWh", "Transaction.End"),
        },
        {"idTagInfo": {"status": "Accepted"}},
    ),
    ("DataTransfer", {"vendorId": "com.acme", "messageId": "m", "data": "x"}, {}),
    ("DiagnosticsStatusNotification", {"status": "Idle"}, {}),
    ("FirmwareStatusNotification", {"status": "Installed"}, {}),
    (
        "SecurityEventNotification",
        {"type": "FirmwareUpdated", "timestamp": TS, "techInfo": "2.0"},
        {},
    ),
    ("SignCertificate", {"csr": CSR}, {"status": "Rejected"}),
    ("LogStatusNotification", {"status": "Uploaded", "requestId": 7}, {}),
    ("SignedFirmwareStatusNotification", {"status": "Installed", "requestId": 8}, {}),
]

MESSAGES_201: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "BootNotification",
        {
            "chargingStation": {"model": "M", "vendorName": "V", "firmwareVersion": "1"},
            "reason": "PowerUp",
        },
        {"status": "Accepted"},
    ),
    ("Heartbeat", {}, {}),
    (
        "StatusNotification",
        {"timestamp": TS, "connectorStatus": "Occupied", "evseId": 1, "connectorId": 1},
        {},
    ),
    ("MeterValues", {"evseId": 1, "meterValue": _energy201(1.5, "kWh")}, {}),
    (
        "Authorize",
        {"idToken": {"idToken": "TAG1", "type": "ISO14443"}},
        {"idTokenInfo": {"status": "Accepted"}},
    ),
    (
        "TransactionEvent",
        _tx201(
            "Started",
            0,
            idToken={"idToken": "TAG1", "type": "ISO14443"},
            meterValue=_energy201(1500),
        ),
        {"idTokenInfo": {"status": "Accepted"}},
    ),
    ("TransactionEvent", _tx201("Updated", 1, offline=True, meterValue=_energy201(2000)), {}),
    ("TransactionEvent", _tx201("Ended", 2), {}),
    (
        "NotifyEvent",
        {
            "generatedAt": TS,
            "seqNo": 0,
            "eventData": [
                {
                    "eventId": 1,
                    "timestamp": TS,
                    "trigger": "Alerting",
                    "actualValue": "Faulted",
                    "eventNotificationType": "HardWiredNotification",
                    "component": {"name": "Connector", "evse": {"id": 1, "connectorId": 1}},
                    "variable": {"name": "Problem"},
                }
            ],
        },
        {},
    ),
    (
        "NotifyReport",
        {
            "requestId": 1,
            "generatedAt": TS,
            "seqNo": 0,
            "tbc": False,
            "reportData": [
                {
                    "component": {"name": "OCPPCommCtrlr"},
                    "variable": {"name": "HeartbeatInterval"},
                    "variableAttribute": [{"type": "Actual", "value": "60"}],
                }
            ],
        },
        {},
    ),
    ("SecurityEventNotification", {"type": "StartupOfTheDevice", "timestamp": TS}, {}),
    ("FirmwareStatusNotification", {"status": "Installed", "requestId": 3}, {}),
    ("LogStatusNotification", {"status": "Uploaded", "requestId": 4}, {}),
    ("DataTransfer", {"vendorId": "com.acme"}, {"status": "UnknownVendorId"}),
    ("SignCertificate", {"csr": CSR}, {"status": "Rejected"}),
    ("NotifyChargingLimit", {"chargingLimit": {"chargingLimitSource": "EMS"}}, {}),
    ("ClearedChargingLimit", {"chargingLimitSource": "EMS"}, {}),
    ("NotifyDisplayMessages", {"requestId": 1}, {}),
    ("NotifyMonitoringReport", {"requestId": 1, "seqNo": 0, "generatedAt": TS}, {}),
    (
        "NotifyCustomerInformation",
        {"data": "x", "seqNo": 0, "generatedAt": TS, "requestId": 1},
        {},
    ),
    ("PublishFirmwareStatusNotification", {"status": "Idle"}, {}),
    ("ReservationStatusUpdate", {"reservationId": 1, "reservationUpdateStatus": "Expired"}, {}),
    (
        "ReportChargingProfiles",
        {
            "requestId": 1,
            "chargingLimitSource": "EMS",
            "evseId": 1,
            "chargingProfile": [PROFILE],
        },
        {},
    ),
]

MESSAGES = {"ocpp1.6": MESSAGES_16, "ocpp2.0.1": MESSAGES_201}


def _contains(answer: dict[str, Any], expected: dict[str, Any]) -> bool:
    return all(
        _contains(answer.get(k) or {}, v) if isinstance(v, dict) else answer.get(k) == v
        for k, v in expected.items()
    )


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1"])
async def test_every_charger_message_gets_a_schema_valid_answer(
    charger: Connect, uid: str, protocol: str
) -> None:
    c = await charger(f"CONF-{protocol[-3:]}-{uid}", protocol)
    tx_id = None
    for action, payload, expected in MESSAGES[protocol]:
        if action == "StopTransaction":
            payload = {**payload, "transactionId": tx_id}
        strict.check_payload(protocol, action, payload, response=False)  # the test's own input
        reply = await c.call(action, payload)  # strict-checked against <action>Response
        assert reply[0] == 3, (action, reply)
        assert _contains(reply[2], expected), (action, reply[2])
        if action == "StartTransaction":
            tx_id = reply[2]["transactionId"]
    if protocol == "ocpp1.6":
        assert isinstance(tx_id, int)


def test_every_handled_action_has_a_conformance_case(csms: CsmsApp) -> None:
    for protocol, handlers in csms.node.handlers.items():
        covered = {action for action, _, _ in MESSAGES[protocol]}
        assert set(handlers) == covered, protocol


async def test_boot_interval_is_the_heartbeat_interval(charger: Connect, csms: CsmsApp) -> None:
    c = await charger("BOOT-INTERVAL")
    boot = await c.call("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
    assert boot[2]["interval"] == csms.settings.heartbeat_interval


# (protocol, action, params, OCPP action sent, the charger's answer, outcome)
_RESERVE_16 = {
    "connectorId": 1,
    "expiryDate": "2030-01-01T00:00:00Z",
    "idTag": "T1",
    "reservationId": 9,
}
COMMANDS: list[tuple[str, Action, dict[str, Any], str, dict[str, Any], Outcome]] = [
    (
        "ocpp1.6",
        Action.OCPP,
        {"action": "ReserveNow", "payload": _RESERVE_16},
        "ReserveNow",
        {"status": "Occupied"},
        Outcome.REJECTED,
    ),
    (
        "ocpp2.0.1",
        Action.OCPP,
        {"action": "GetLocalListVersion", "payload": {}},
        "GetLocalListVersion",
        {"versionNumber": 4},
        Outcome.ACCEPTED,
    ),
    (
        "ocpp1.6",
        Action.START,
        {"connectorId": 1, "idTag": "T1"},
        "RemoteStartTransaction",
        {"status": "Accepted"},
        Outcome.ACCEPTED,
    ),
    ("ocpp1.6", Action.STOP, {}, "RemoteStopTransaction", {"status": "Accepted"}, Outcome.ACCEPTED),
    (
        "ocpp1.6",
        Action.AVAILABILITY,
        {"operative": False},
        "ChangeAvailability",
        {"status": "Scheduled"},
        Outcome.ACCEPTED,
    ),
    ("ocpp1.6", Action.RESET, {"type": "Hard"}, "Reset", {"status": "Rejected"}, Outcome.REJECTED),
    (
        "ocpp1.6",
        Action.UNLOCK,
        {"connectorId": 1},
        "UnlockConnector",
        {"status": "Unlocked"},
        Outcome.ACCEPTED,
    ),
    (
        "ocpp1.6",
        Action.TRIGGER,
        {"message": "StatusNotification", "connectorId": 1},
        "TriggerMessage",
        {"status": "Accepted"},
        Outcome.ACCEPTED,
    ),
    (
        "ocpp1.6",
        Action.GET_CONFIGURATION,
        {"key": ["HeartbeatInterval"]},
        "GetConfiguration",
        {"configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "60"}]},
        Outcome.ACCEPTED,
    ),
    (
        "ocpp1.6",
        Action.CHANGE_CONFIGURATION,
        {"key": "HeartbeatInterval", "value": "120"},
        "ChangeConfiguration",
        {"status": "RebootRequired"},
        Outcome.ACCEPTED,
    ),
    ("ocpp1.6", Action.CLEAR_CACHE, {}, "ClearCache", {"status": "Accepted"}, Outcome.ACCEPTED),
    (
        "ocpp2.0.1",
        Action.START,
        {"connectorId": 1},
        "RequestStartTransaction",
        {"status": "Accepted", "transactionId": "tx-x"},
        Outcome.ACCEPTED,
    ),
    (
        "ocpp2.0.1",
        Action.STOP,
        {},
        "RequestStopTransaction",
        {"status": "Rejected"},
        Outcome.REJECTED,
    ),
    (
        "ocpp2.0.1",
        Action.AVAILABILITY,
        {"operative": True, "connectorId": 1},
        "ChangeAvailability",
        {"status": "Accepted"},
        Outcome.ACCEPTED,
    ),
    (
        "ocpp2.0.1",
        Action.RESET,
        {"type": "Soft"},
        "Reset",
        {"status": "Scheduled"},
        Outcome.ACCEPTED,
    ),
    (
        "ocpp2.0.1",
        Action.UNLOCK,
        {"connectorId": 1},
        "UnlockConnector",
        {"status": "UnknownConnector"},
        Outcome.REJECTED,
    ),
    (
        "ocpp2.0.1",
        Action.TRIGGER,
        {"message": "MeterValues", "connectorId": 1},
        "TriggerMessage",
        {"status": "Accepted"},
        Outcome.ACCEPTED,
    ),
    (
        "ocpp2.0.1",
        Action.GET_VARIABLES,
        {
            "getVariableData": [
                {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
            ]
        },
        "GetVariables",
        {
            "getVariableResult": [
                {
                    "attributeStatus": "Accepted",
                    "attributeValue": "60",
                    "component": {"name": "OCPPCommCtrlr"},
                    "variable": {"name": "HeartbeatInterval"},
                }
            ]
        },
        Outcome.ACCEPTED,
    ),
    (
        "ocpp2.0.1",
        Action.SET_VARIABLES,
        {
            "setVariableData": [
                {
                    "attributeValue": "120",
                    "component": {"name": "OCPPCommCtrlr"},
                    "variable": {"name": "HeartbeatInterval"},
                }
            ]
        },
        "SetVariables",
        {
            "setVariableResult": [
                {
                    "attributeStatus": "Accepted",
                    "component": {"name": "OCPPCommCtrlr"},
                    "variable": {"name": "HeartbeatInterval"},
                }
            ]
        },
        Outcome.ACCEPTED,
    ),
    (
        "ocpp2.0.1",
        Action.GET_BASE_REPORT,
        {"reportBase": "FullInventory"},
        "GetBaseReport",
        {"status": "Accepted"},
        Outcome.ACCEPTED,
    ),
    ("ocpp2.0.1", Action.CLEAR_CACHE, {}, "ClearCache", {"status": "Accepted"}, Outcome.ACCEPTED),
]


async def _with_transaction(c: RawCharger) -> None:
    """Give the charger a running transaction so that a stop has something to stop."""
    if c.protocol == "ocpp1.6":
        await c.call(
            "StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": TS}
        )
    else:
        await c.call("TransactionEvent", _tx201("Started", 0))


@pytest.mark.parametrize(
    ("protocol", "action", "params", "ocpp_action", "answer", "outcome"),
    COMMANDS,
    ids=[f"{c[0]}-{c[1].value}" for c in COMMANDS],
)
async def test_every_command_sends_a_schema_valid_call_and_reports_the_answer(
    csms: CsmsApp,
    charger: Connect,
    command: Command,
    uid: str,
    protocol: str,
    action: Action,
    params: dict[str, Any],
    ocpp_action: str,
    answer: dict[str, Any],
    outcome: Outcome,
) -> None:
    cp = f"CMD-{uid}"
    c = await charger(cp, protocol)
    if action is Action.STOP:
        await _with_transaction(c)
    else:
        await c.call("Heartbeat", {})
    pending = asyncio.create_task(command(csms.node.node_id, cp, action, params))
    frame = await asyncio.wait_for(c.recv_call(), 5)  # strict-checked against the request schema
    assert frame[2] == ocpp_action
    strict.check_payload(protocol, ocpp_action, answer, response=True)  # the test's own answer
    await c.answer(frame[1], answer)
    reply = await pending
    assert reply.outcome is outcome, reply
    assert reply.ocpp_action == ocpp_action and reply.response == answer


def test_every_action_is_covered_for_both_versions() -> None:
    version_specific = {
        Action.GET_CONFIGURATION: "ocpp1.6",
        Action.CHANGE_CONFIGURATION: "ocpp1.6",
        Action.GET_VARIABLES: "ocpp2.0.1",
        Action.SET_VARIABLES: "ocpp2.0.1",
        Action.GET_BASE_REPORT: "ocpp2.0.1",
    }
    covered = {(protocol, action) for protocol, action, *_ in COMMANDS}
    for action in Action:
        for protocol in ("ocpp1.6", "ocpp2.0.1"):
            if version_specific.get(action, protocol) == protocol:
                assert (protocol, action) in covered, (protocol, action)


@pytest.mark.parametrize(
    ("protocol", "action", "params", "message"),
    [
        ("ocpp2.0.1", Action.GET_CONFIGURATION, {}, "OCPP 1.6 message only"),
        ("ocpp1.6", Action.GET_BASE_REPORT, {"reportBase": "FullInventory"}, "2.0.1"),
        ("ocpp1.6", Action.RESET, {"type": "Sideways"}, "invalid parameters"),
        ("ocpp1.6", Action.UNLOCK, {}, "connectorId is required"),
        ("ocpp1.6", Action.START, {"idTag": "x" * 21}, "invalid parameters"),
        ("ocpp2.0.1", Action.TRIGGER, {"message": "Nonsense"}, "invalid parameters"),
        ("ocpp2.0.1", Action.SET_VARIABLES, {"setVariableData": []}, "invalid parameters"),
        ("ocpp1.6", Action.AVAILABILITY, {"operative": "no"}, "invalid parameters"),
        ("ocpp1.6", Action.OCPP, {"action": "GetVariables", "payload": {}}, "no GetVariables"),
        ("ocpp2.0.1", Action.OCPP, {"action": "Reset", "payload": {}}, "invalid parameters"),
        ("ocpp2.0.1", Action.OCPP, {"action": "Reset"}, "invalid parameters"),
    ],
)
async def test_bad_commands_are_refused_without_bothering_the_charger(
    csms: CsmsApp,
    charger: Connect,
    command: Command,
    uid: str,
    protocol: str,
    action: Action,
    params: dict[str, Any],
    message: str,
) -> None:
    cp = f"BADCMD-{uid}"
    c = await charger(cp, protocol)
    await c.call("Heartbeat", {})
    reply = await command(csms.node.node_id, cp, action, params)
    assert reply.outcome is Outcome.NOT_SUPPORTED and message in (reply.message or "")
    # nothing reached the charger: its next exchange is its own
    assert (await c.call("Heartbeat", {}))[0] == 3


async def test_an_answer_that_breaks_the_schema_fails_the_command(
    csms: CsmsApp, charger: Connect, command: Command, uid: str
) -> None:
    cp = f"BADANS-{uid}"
    c = await charger(cp, "ocpp2.0.1")
    await c.call("Heartbeat", {})
    pending = asyncio.create_task(command(csms.node.node_id, cp, Action.CLEAR_CACHE))
    frame = await asyncio.wait_for(c.recv_call(), 5)
    await c.answer(frame[1], {"status": "Maybe"})
    reply = await pending
    assert reply.outcome is Outcome.FAILED and "schema" in (reply.message or "")


async def test_a_callerror_answer_fails_the_command(
    csms: CsmsApp, charger: Connect, command: Command, uid: str
) -> None:
    cp = f"ERRANS-{uid}"
    c = await charger(cp)
    await c.call("Heartbeat", {})
    pending = asyncio.create_task(command(csms.node.node_id, cp, Action.CLEAR_CACHE))
    frame = await asyncio.wait_for(c.recv_call(), 5)
    await c.ws.send(f'[4, "{frame[1]}", "NotSupported", "no cache here", {{}}]')
    reply = await pending
    assert reply.outcome is Outcome.FAILED
    assert reply.response == {"errorCode": "NotSupported", "description": "no cache here"}


async def test_a_malformed_answer_fails_the_command_at_once(
    csms: CsmsApp, charger: Connect, command: Command, uid: str
) -> None:
    cp = f"MALANS-{uid}"
    c = await charger(cp)
    await c.call("Heartbeat", {})
    pending = asyncio.create_task(command(csms.node.node_id, cp, Action.CLEAR_CACHE, timeout=30))
    frame = await asyncio.wait_for(c.recv_call(), 5)
    await c.ws.send(f'[3, "{frame[1]}"]')  # no payload: not answered (no reply to a reply)
    reply = await asyncio.wait_for(pending, 10)  # well before its 30 s timeout
    assert reply.outcome is Outcome.FAILED
    assert (await c.call("Heartbeat", {}))[0] == 3
