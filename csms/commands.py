"""Partner and operator commands -> OCPP CALLs, and the charger's answer -> an outcome.
No I/O here."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from csms.session import Session
from shared import ocpp_schemas
from shared.bus import Action, Outcome
from shared.framing import OCPP16, CallError, CallResult

DEFAULT_ID_TAG = "PARTNER"

# Answers that mean the charger does (or will do) what it was asked.
_DONE = frozenset({"Accepted", "Scheduled", "Unlocked", "RebootRequired"})
# Commands the spec forbids while a charger's boot is Pending (1.6 4.2, 2.0.1 B02).
_NOT_WHILE_PENDING = frozenset({Action.START, Action.STOP})


@dataclass(frozen=True, slots=True)
class OcppCall:
    action: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Refusal:
    """The command cannot be sent: bad parameters, or the charger's state rules it out."""

    outcome: Outcome
    message: str


class BadParams(ValueError):
    """The command's parameters cannot make a valid CALL."""


Builder = Callable[[dict[str, Any], Session, str], OcppCall | Refusal]


def _int(params: dict[str, Any], name: str) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadParams(f"{name} must be an integer")
    return value


def _request_id(command_id: str) -> int:
    """A stable positive int32 from the command id: the charger echoes it in its reports."""
    return zlib.crc32(command_id.encode()) & 0x7FFFFFFF


def _start(params: dict[str, Any], session: Session, command_id: str) -> OcppCall:
    connector = _int(params, "connectorId")
    id_tag = params.get("idTag") or DEFAULT_ID_TAG
    if session.protocol == OCPP16:
        payload: dict[str, Any] = {"idTag": id_tag}
        if connector is not None:
            payload["connectorId"] = connector
        return OcppCall("RemoteStartTransaction", payload)
    # remoteStartId lets the charger's TransactionEvent name the command that started it
    payload = {
        "idToken": {"idToken": id_tag, "type": "Central"},
        "remoteStartId": _request_id(command_id),
    }
    if connector is not None:
        payload["evseId"] = connector
    return OcppCall("RequestStartTransaction", payload)


def remote_start_token(call: OcppCall | Refusal) -> str | None:
    """The token a remote start names: a token nobody registered is then accepted on that
    charger for a while (the partner who started the session stands for it)."""
    if not isinstance(call, OcppCall):
        return None
    if call.action == "RemoteStartTransaction":
        return str(call.payload["idTag"])
    if call.action == "RequestStartTransaction":
        return str(call.payload["idToken"]["idToken"])
    return None


def _stop(params: dict[str, Any], session: Session, command_id: str) -> OcppCall | Refusal:
    connector = _int(params, "connectorId")
    running = session.transactions
    tx = running.get(connector) if connector is not None else next(iter(running.values()), None)
    if not tx:
        return Refusal(Outcome.NOT_SUPPORTED, "no transaction is running on this charger")
    if session.protocol == OCPP16:
        return OcppCall("RemoteStopTransaction", {"transactionId": int(tx)})
    return OcppCall("RequestStopTransaction", {"transactionId": tx})


def _availability(params: dict[str, Any], session: Session, command_id: str) -> OcppCall:
    connector = _int(params, "connectorId")
    operative = params.get("operative", True)
    if not isinstance(operative, bool):
        raise BadParams("operative must be true or false")
    kind = "Operative" if operative else "Inoperative"
    if session.protocol == OCPP16:
        return OcppCall("ChangeAvailability", {"connectorId": connector or 0, "type": kind})
    payload: dict[str, Any] = {"operationalStatus": kind}
    if connector:
        payload["evse"] = {"id": connector}
    return OcppCall("ChangeAvailability", payload)


_RESET_16 = {"Soft": "Soft", "Hard": "Hard", "OnIdle": "Soft", "Immediate": "Hard"}
_RESET_201 = {"Soft": "OnIdle", "Hard": "Immediate", "OnIdle": "OnIdle", "Immediate": "Immediate"}


def _reset(params: dict[str, Any], session: Session, command_id: str) -> OcppCall:
    kind = params.get("type", "Soft")
    names = _RESET_16 if session.protocol == OCPP16 else _RESET_201
    if kind not in names:
        raise BadParams("type must be Soft, Hard, OnIdle or Immediate")
    payload: dict[str, Any] = {"type": names[kind]}
    evse = _int(params, "connectorId")
    if evse is not None and session.protocol != OCPP16:
        payload["evseId"] = evse
    return OcppCall("Reset", payload)


def _unlock(params: dict[str, Any], session: Session, command_id: str) -> OcppCall:
    connector = _int(params, "connectorId")
    if connector is None:
        raise BadParams("connectorId is required")
    if session.protocol == OCPP16:
        return OcppCall("UnlockConnector", {"connectorId": connector})
    # the partner's connector is the EVSE; evseConnectorId picks a connector within it
    inner = _int(params, "evseConnectorId")
    return OcppCall(
        "UnlockConnector", {"evseId": connector, "connectorId": 1 if inner is None else inner}
    )


def _trigger(params: dict[str, Any], session: Session, command_id: str) -> OcppCall:
    message = params.get("message")
    if not isinstance(message, str):
        raise BadParams("message (the requestedMessage) is required")
    connector = _int(params, "connectorId")
    payload: dict[str, Any] = {"requestedMessage": message}
    if session.protocol == OCPP16:
        if connector is not None:
            payload["connectorId"] = connector
        return OcppCall("TriggerMessage", payload)
    if connector is not None:
        evse: dict[str, Any] = {"id": connector}
        inner = _int(params, "evseConnectorId")
        if inner is not None:
            evse["connectorId"] = inner
        payload["evse"] = evse
    return OcppCall("TriggerMessage", payload)


def _clear_cache(params: dict[str, Any], session: Session, command_id: str) -> OcppCall:
    return OcppCall("ClearCache", {})


def _as_is(action: str, protocol: str, request_id: bool = False) -> Builder:
    """A command whose params are the OCPP request itself, for one protocol version."""

    def build(params: dict[str, Any], session: Session, command_id: str) -> OcppCall | Refusal:
        if session.protocol != protocol:
            return Refusal(
                Outcome.NOT_SUPPORTED, f"{action} is an OCPP {protocol[4:]} message only"
            )
        payload = dict(params)
        if request_id:
            payload.setdefault("requestId", _request_id(command_id))
        return OcppCall(action, payload)

    return build


def _ocpp(params: dict[str, Any], session: Session, command_id: str) -> OcppCall | Refusal:
    """An operator's OCPP message as it is, if the charger's version has a CSMS message so
    named (the gateway checked it against the same schema before sending)."""
    action, payload = params.get("action"), params.get("payload")
    if not isinstance(action, str) or not isinstance(payload, dict):
        raise BadParams("action (a string) and payload (an object) are required")
    if action not in ocpp_schemas.CSMS_ACTIONS[session.protocol]:
        return Refusal(
            Outcome.NOT_SUPPORTED,
            f"OCPP {session.protocol[4:]} has no {action} sent by a central system",
        )
    return OcppCall(action, payload)


_BUILDERS: dict[Action, Builder] = {
    Action.START: _start,
    Action.STOP: _stop,
    Action.AVAILABILITY: _availability,
    Action.RESET: _reset,
    Action.UNLOCK: _unlock,
    Action.TRIGGER: _trigger,
    Action.CLEAR_CACHE: _clear_cache,
    Action.GET_CONFIGURATION: _as_is("GetConfiguration", OCPP16),
    Action.CHANGE_CONFIGURATION: _as_is("ChangeConfiguration", OCPP16),
    Action.GET_VARIABLES: _as_is("GetVariables", "ocpp2.0.1"),
    Action.SET_VARIABLES: _as_is("SetVariables", "ocpp2.0.1"),
    Action.GET_BASE_REPORT: _as_is("GetBaseReport", "ocpp2.0.1", request_id=True),
    Action.OCPP: _ocpp,
}


def build(
    action: Action, params: dict[str, Any], session: Session, command_id: str
) -> OcppCall | Refusal:
    """The OCPP CALL that carries out a command on this charger, valid against the spec's schema."""
    if session.boot_status == "Rejected":
        # 2.0.1 B03: the central system sends nothing to a charger it rejected
        return Refusal(Outcome.NOT_SUPPORTED, "the charger's boot was rejected")
    if session.boot_status == "Pending" and action in _NOT_WHILE_PENDING:
        return Refusal(Outcome.NOT_SUPPORTED, "the charger's boot is pending")
    try:
        built = _BUILDERS[action](params, session, command_id)
    except (BadParams, TypeError, ValueError) as exc:
        return Refusal(Outcome.NOT_SUPPORTED, f"invalid parameters: {exc}")
    if isinstance(built, Refusal):
        return built
    problem = ocpp_schemas.problem(session.protocol, built.action, built.payload)
    if problem is not None:
        return Refusal(Outcome.NOT_SUPPORTED, f"invalid parameters: {problem}")
    return built


def settle(
    protocol: str, action: str, answer: CallResult | CallError
) -> tuple[Outcome, str | None]:
    """The outcome of the charger's answer to `action`, and why it failed if it did."""
    if isinstance(answer, CallError):
        return Outcome.FAILED, f"the charger answered {answer.code}: {answer.description}"[:255]
    problem = ocpp_schemas.problem(protocol, action, answer.payload, response=True)
    if problem is not None:
        return Outcome.FAILED, f"the charger's answer breaks the OCPP schema: {problem}"[:255]
    status = answer.payload.get("status")
    # Answers without a status (GetConfiguration, GetVariables, SetVariables) carry their
    # results item by item: the command itself went through.
    if status is None or status in _DONE:
        return Outcome.ACCEPTED, None
    return Outcome.REJECTED, None
