"""The OCPP-J conversation without a socket or Redis: what the central system answers, what it
stores, and when it answers without running a handler."""

from __future__ import annotations

import itertools
from typing import Any

import orjson
import pytest

from csms import handlers_v16, handlers_v201
from csms.authorization import TokenState
from csms.protocol import Action, ChargerProtocol, Lookup, Policy, Send, Settle, Store
from csms.session import Session
from shared import ocpp_schemas
from shared.framing import OCPP16, OCPP201, CallError, CallResult

NOW = 1_800_000_000.0
POLICY = Policy(heartbeat_interval=60, boot_unknown="Rejected", boot_retry_interval=300)


def protocol(version: str, *, known: bool = True, policy: Policy = POLICY) -> ChargerProtocol:
    ids = itertools.count(1)
    handlers = (
        handlers_v16.handlers(lambda: next(ids)) if version == OCPP16 else handlers_v201.handlers()
    )
    validators = {action: ocpp_schemas.validator(version, action) for action in handlers}
    session = Session("CP-1", version, "node-1", "1/node-1", boot_accepted=known, known=known)
    return ChargerProtocol(session, handlers, validators, policy)


def unknown_token(p: ChargerProtocol, action: Action) -> Action:
    """A Lookup answered as the store answers for a token nobody registered."""
    assert isinstance(action, Lookup), action
    return p.resume(action, TokenState(action.token.upper(), None), NOW)


def frame(message_id: str, action: str, payload: dict[str, Any]) -> bytes:
    return orjson.dumps([2, message_id, action, payload])


def answer(action: object) -> list[Any]:
    assert isinstance(action, Send | Store), action
    text = action.frame if isinstance(action, Send) else action.answer
    decoded: list[Any] = orjson.loads(text)
    return decoded


TS_16 = "2026-01-01T00:00:00Z"
STATUS_16 = {"connectorId": 1, "errorCode": "NoError", "status": "Charging"}


def test_a_call_becomes_a_store_and_is_answered_only_once_stored() -> None:
    p = protocol(OCPP16)
    action = p.receive(frame("1", "StatusNotification", STATUS_16), NOW)
    assert isinstance(action, Store)
    assert [e["type"] for e in action.events] == ["status"]
    assert action.fields["st:1"] == "Charging" and action.fields["seen"] == repr(NOW)
    assert orjson.loads(p.stored(action)) == [3, "1", {}]


def test_a_failed_store_is_internal_error_and_the_retry_runs_again() -> None:
    p = protocol(OCPP16)
    data = frame("1", "StatusNotification", STATUS_16)
    first = p.receive(data, NOW)
    assert isinstance(first, Store)
    assert orjson.loads(p.not_stored(first))[:3] == [4, "1", "InternalError"]
    assert isinstance(p.receive(data, NOW), Store)  # not a replay of the error


def test_the_same_call_sent_again_gets_the_same_answer_without_running_again() -> None:
    p = protocol(OCPP16)
    start = {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": "2026-01-01T00:00:00Z"}
    data = frame("7", "StartTransaction", start)
    first = unknown_token(p, p.receive(data, NOW))
    assert isinstance(first, Store)
    sent = p.stored(first)
    again = p.receive(data, NOW + 1)
    assert again == Send(sent)  # the same transaction id, no second transaction
    assert p.session.transactions == {1: "1"}
    # the same id with another body is a new CALL
    assert isinstance(
        unknown_token(
            p, p.receive(frame("7", "StartTransaction", {**start, "connectorId": 2}), NOW)
        ),
        Store,
    )


@pytest.mark.parametrize("version", [OCPP16, OCPP201])
def test_before_an_accepted_boot_only_boot_and_triggered_calls_run(version: str) -> None:
    p = protocol(version, known=False)
    heartbeat = p.receive(frame("1", "Heartbeat", {}), NOW)
    assert answer(heartbeat)[:3] == [4, "1", "SecurityError"]
    p.accepted_trigger({"requestedMessage": "Heartbeat"})
    assert isinstance(p.receive(frame("2", "Heartbeat", {}), NOW), Store)


def test_boot_of_an_unknown_charger_follows_the_policy() -> None:
    boot = {"chargePointVendor": "V", "chargePointModel": "M"}
    p = protocol(OCPP16, known=False, policy=Policy(60, "Pending", 300))
    result = answer(p.receive(frame("1", "BootNotification", boot), NOW))[2]
    assert (result["status"], result["interval"]) == ("Pending", 300)
    assert not p.session.boot_accepted
    accepted = protocol(OCPP16, known=True)
    result = answer(accepted.receive(frame("1", "BootNotification", boot), NOW))[2]
    assert (result["status"], result["interval"]) == ("Accepted", 60)


@pytest.mark.parametrize(
    ("version", "payload", "code"),
    [
        (OCPP16, {"errorCode": "NoError", "status": "Charging"}, "OccurenceConstraintViolation"),
        (OCPP16, {**STATUS_16, "connectorId": "one"}, "TypeConstraintViolation"),
        (
            OCPP201,
            {"timestamp": "2026-01-01T00:00:00Z", "evseId": 1},
            "OccurrenceConstraintViolation",
        ),
    ],
)
def test_a_payload_against_the_schema_gets_the_error_the_spec_names_and_stores_nothing(
    version: str, payload: dict[str, Any], code: str
) -> None:
    p = protocol(version)
    result = p.receive(frame("9", "StatusNotification", payload), NOW)
    assert isinstance(result, Send)
    assert answer(result)[:3] == [4, "9", code]
    assert p.session.raw_status == {}


def test_unknown_and_unsupported_actions() -> None:
    p = protocol(OCPP16)
    assert answer(p.receive(frame("1", "NoSuchAction", {}), NOW))[2] == "NotImplemented"
    # part of OCPP 1.6, but a central system's to send, not a charger's
    assert answer(p.receive(frame("2", "RemoteStartTransaction", {"idTag": "T"}), NOW))[2] == (
        "NotSupported"
    )


def test_a_broken_frame_is_answered_when_it_may_be_a_call_and_never_otherwise() -> None:
    p = protocol(OCPP16)
    assert answer(p.receive(b'[2, "5", "Heartbeat"]', NOW))[:3] == [4, "5", "FormationViolation"]
    assert answer(p.receive(b"not json", NOW))[:3] == [4, "-1", "FormationViolation"]
    broken_answer = p.receive(b'[3, "abc"]', NOW)
    assert isinstance(broken_answer, Settle) and isinstance(broken_answer.answer, CallError)


def test_answers_to_our_calls_are_handed_back() -> None:
    p = protocol(OCPP201)
    settled = p.receive(orjson.dumps([3, "c1", {"status": "Accepted"}]), NOW)
    assert settled == Settle(CallResult("c1", {"status": "Accepted"}))


def test_while_the_node_shuts_down_a_call_is_neither_stored_nor_answered() -> None:
    p = protocol(OCPP16)
    assert p.receive(frame("1", "Heartbeat", {}), NOW, calls_taken=False) is None
    # answers to our own CALLs still settle
    assert isinstance(p.receive(orjson.dumps([3, "c1", {}]), NOW, calls_taken=False), Settle)


def _tx_event(kind: str, seq: int, **extra: Any) -> dict[str, Any]:
    return {
        "eventType": kind,
        "timestamp": "2026-01-01T00:00:00Z",
        "triggerReason": "Authorized",
        "seqNo": seq,
        "transactionInfo": {"transactionId": "tx-1", **extra.pop("info", {})},
        **extra,
    }


def _energy(wh: float) -> list[dict[str, Any]]:
    return [
        {
            "timestamp": "2026-01-01T00:00:00Z",
            "sampledValue": [{"value": wh, "measurand": "Energy.Active.Import.Register"}],
        }
    ]


def test_transaction_event_tracks_the_transaction_and_ends_it_at_its_last_reading() -> None:
    p = protocol(OCPP201)
    started = p.receive(
        frame(
            "1",
            "TransactionEvent",
            _tx_event("Started", 0, evse={"id": 1}, meterValue=_energy(100)),
        ),
        NOW,
    )
    assert isinstance(started, Store)
    tx_start = next(e for e in started.events if e["type"] == "tx_start")
    assert tx_start["meter_start_wh"] == 100 and tx_start["connector"] == 1
    assert p.session.transactions == {1: "tx-1"}
    p.stored(started)
    updated = p.receive(
        frame("2", "TransactionEvent", _tx_event("Updated", 1, meterValue=_energy(250))), NOW
    )
    assert isinstance(updated, Store)
    ended = p.receive(frame("3", "TransactionEvent", _tx_event("Ended", 2)), NOW)
    assert isinstance(ended, Store)
    tx_stop = next(e for e in ended.events if e["type"] == "tx_stop")
    assert tx_stop["meter_stop_wh"] == 250  # no reading at the end: the latest one
    assert p.session.transactions == {}
    assert ended.fields["tx:1"] == ""


def _stored_or_resumed(p: ChargerProtocol, action: Action) -> Store:
    if isinstance(action, Lookup):
        action = unknown_token(p, action)
    assert isinstance(action, Store), action
    return action


@pytest.mark.parametrize("version", [OCPP16, OCPP201])
def test_a_stop_whose_write_failed_ends_the_transaction_when_sent_again(version: str) -> None:
    """The charger is told InternalError and sends the stop again: it is a stop, not a repeat
    of an ended transaction's report, answered and dropped."""
    p = protocol(version)
    if version == OCPP16:
        start = {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": TS_16}
        stop = {"transactionId": 1, "meterStop": 500, "timestamp": TS_16}
        messages = [("StartTransaction", start), ("StopTransaction", stop)]
    else:
        start = _tx_event("Started", 0, evse={"id": 1}, meterValue=_energy(100))
        messages = [("TransactionEvent", start), ("TransactionEvent", _tx_event("Ended", 1))]
    [(start_action, start_payload), (stop_action, stop_payload)] = messages
    p.stored(_stored_or_resumed(p, p.receive(frame("1", start_action, start_payload), NOW)))
    failed = _stored_or_resumed(p, p.receive(frame("2", stop_action, stop_payload), NOW))
    p.not_stored(failed)
    assert p.session.transactions == {1: "1" if version == OCPP16 else "tx-1"}
    again = _stored_or_resumed(p, p.receive(frame("3", stop_action, stop_payload), NOW))
    assert [e["type"] for e in again.events if e["type"] == "tx_stop"] == ["tx_stop"]
    assert again.fields["tx:1"] == "" and p.session.transactions == {}


@pytest.mark.parametrize("connector", [-1, 17, 1_000_000_000])
def test_a_connector_out_of_range_is_a_property_violation_and_stores_nothing(
    connector: int,
) -> None:
    p = protocol(OCPP16)
    action = p.receive(
        frame("1", "StatusNotification", {**STATUS_16, "connectorId": connector}), NOW
    )
    assert isinstance(action, Send)  # a Send, not a Store: nothing written
    assert answer(action)[:3] == [4, "1", "PropertyConstraintViolation"]


def test_the_connector_range_is_the_policys() -> None:
    p = protocol(OCPP16, policy=Policy(60, "Rejected", 300, max_connectors=40))
    action = p.receive(frame("1", "StatusNotification", {**STATUS_16, "connectorId": 40}), NOW)
    assert isinstance(action, Store)


def test_a_negative_meter_start_leaves_the_energy_unknown() -> None:
    p = protocol(OCPP16)
    start = {"connectorId": 1, "idTag": "T", "meterStart": -5, "timestamp": "2026-01-01T00:00:00Z"}
    action = unknown_token(p, p.receive(frame("1", "StartTransaction", start), NOW))
    assert isinstance(action, Store)
    assert action.events[0]["type"] == "tx_start"
    assert action.events[0]["meter_start_wh"] is None


def test_a_2_0_1_evse_is_what_its_most_telling_connector_is() -> None:
    """A dual-connector EVSE reports the sibling of an occupied connector Unavailable: the EVSE
    is still in use, not out of order."""
    p = protocol(OCPP201)

    def report(message_id: str, connector: int, status: str) -> str:
        payload = {
            "timestamp": "2026-01-01T00:00:00Z",
            "connectorStatus": status,
            "evseId": 1,
            "connectorId": connector,
        }
        store = p.receive(frame(message_id, "StatusNotification", payload), NOW)
        assert isinstance(store, Store)
        p.stored(store)
        return store.fields["st:1"]

    assert report("1", 1, "Occupied") == "Occupied"
    assert report("2", 2, "Unavailable") == "Occupied"
    assert report("3", 1, "Available") == "Available"
    assert report("4", 2, "Faulted") == "Available"
    assert report("5", 1, "Unavailable") == "Faulted"  # no connector can deliver
    assert p.session.partner_status(1) == "INOPERATIVE"
