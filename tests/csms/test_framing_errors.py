"""Malformed frames get the CALLERROR OCPP-J names, and the node keeps serving."""

from __future__ import annotations

import pytest

from tests.csms.conftest import Connect

TS = "2026-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("protocol", "frame", "code", "message_id"),
    [
        ("ocpp1.6", "not json", "FormationViolation", "-1"),
        ("ocpp2.0.1", "not json", "RpcFrameworkError", "-1"),
        ("ocpp1.6", '{"a": 1}', "FormationViolation", "-1"),
        ("ocpp2.0.1", '[2, 17, "Heartbeat", {}]', "RpcFrameworkError", "-1"),
        ("ocpp2.0.1", '[2, "' + "x" * 37 + '", "Heartbeat", {}]', "RpcFrameworkError", "-1"),
        ("ocpp2.0.1", '[9, "a1", "Heartbeat", {}]', "MessageTypeNotSupported", "a1"),
        ("ocpp1.6", '[2, "a2", "Heartbeat"]', "FormationViolation", "a2"),
        ("ocpp1.6", '[2, "a3", "NoSuchAction", {}]', "NotImplemented", "a3"),
        (
            "ocpp1.6",
            '[2, "a4", "StatusNotification", {"connectorId": 1}]',
            "OccurenceConstraintViolation",
            "a4",
        ),
        (
            "ocpp2.0.1",
            '[2, "a5", "StatusNotification", {"timestamp": "'
            + TS
            + '", "connectorStatus": "Available", "evseId": 1}]',
            "OccurrenceConstraintViolation",
            "a5",
        ),
        (
            "ocpp1.6",
            '[2, "a6", "StatusNotification", {"connectorId": "one", "errorCode": "NoError", "status": "Available"}]',
            "TypeConstraintViolation",
            "a6",
        ),
        (
            "ocpp1.6",
            '[2, "a7", "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Sleeping"}]',
            "PropertyConstraintViolation",
            "a7",
        ),
        ("ocpp2.0.1", '[2, "a8", "Heartbeat", {"surprise": true}]', "FormatViolation", "a8"),
    ],
)
async def test_malformed_frame_gets_the_named_callerror(
    charger: Connect, uid: str, protocol: str, frame: str, code: str, message_id: str
) -> None:
    c = await charger(f"BAD-{uid}", protocol)
    reply = await c.send_raw(frame)
    assert reply[0] == 4
    assert reply[1] == message_id
    assert reply[2] == code
    # the same connection still works afterwards
    assert (await c.call("Heartbeat", {}))[0] == 3


async def test_other_chargers_are_not_disturbed(charger: Connect, uid: str) -> None:
    good = await charger(f"GOOD-{uid}")
    bad = await charger(f"EVIL-{uid}")
    for junk in ("", "[", "[2]", "null", '[2, "x", 5, 5]', "\x00" * 100):
        await bad.send_raw(junk)
    assert (await good.call("Heartbeat", {}))[0] == 3


async def test_before_accepted_boot_only_boot_is_allowed(charger: Connect, csms, uid: str) -> None:  # type: ignore[no-untyped-def]
    csms.node.settings = csms.node.settings.model_copy(update={"boot_unknown": "Pending"})
    try:
        c = await charger(f"PEND-{uid}", "ocpp2.0.1")
        boot = await c.call(
            "BootNotification",
            {"chargingStation": {"model": "M", "vendorName": "V"}, "reason": "PowerUp"},
        )
        assert boot[2]["status"] == "Pending"
        reply = await c.call("Heartbeat", {})
        assert reply[0] == 4 and reply[2] == "SecurityError"
    finally:
        csms.node.settings = csms.node.settings.model_copy(update={"boot_unknown": "Accepted"})
