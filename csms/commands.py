"""Partner commands -> OCPP CALLs, and the charger's answer -> an outcome. No I/O here."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

from csms.framing import OCPP16, CallError, CallResult
from csms.session import Session
from shared.bus import Action, Outcome

DEFAULT_ID_TAG = "PARTNER"


@dataclass(frozen=True, slots=True)
class OcppCall:
    action: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Refusal:
    """The command cannot be sent in the charger's current state."""

    outcome: Outcome
    message: str


def _connector(params: dict[str, Any], session: Session) -> int | None:
    connector = params.get("connectorId")
    if connector is not None:
        return int(connector)
    return None


def build(
    action: Action, params: dict[str, Any], session: Session, command_id: str
) -> OcppCall | Refusal:
    """The OCPP CALL that carries out a partner command on this charger."""
    v16 = session.protocol == OCPP16
    connector = _connector(params, session)
    if action is Action.START:
        id_tag = params.get("idTag") or DEFAULT_ID_TAG
        if v16:
            payload: dict[str, Any] = {"idTag": id_tag}
            if connector is not None:
                payload["connectorId"] = connector
            return OcppCall("RemoteStartTransaction", payload)
        # remoteStartId lets the charger's TransactionEvent name the command that started it
        payload = {
            "idToken": {"idToken": id_tag, "type": "Central"},
            "remoteStartId": zlib.crc32(command_id.encode()) & 0x7FFFFFFF,
        }
        if connector is not None:
            payload["evseId"] = connector
        return OcppCall("RequestStartTransaction", payload)
    if action is Action.STOP:
        running = session.transactions
        if connector is not None:
            tx = running.get(connector)
        else:
            tx = next(iter(running.values()), None)
        if not tx:
            return Refusal(Outcome.NOT_SUPPORTED, "no transaction is running on this charger")
        if v16:
            return OcppCall("RemoteStopTransaction", {"transactionId": int(tx)})
        return OcppCall("RequestStopTransaction", {"transactionId": tx})
    operative = params.get("operative", True)
    if v16:
        return OcppCall(
            "ChangeAvailability",
            {"connectorId": connector or 0, "type": "Operative" if operative else "Inoperative"},
        )
    payload = {"operationalStatus": "Operative" if operative else "Inoperative"}
    if connector:
        payload["evse"] = {"id": connector}
    return OcppCall("ChangeAvailability", payload)


def outcome(answer: CallResult | CallError) -> Outcome:
    """Map the charger's reply to a command outcome."""
    if isinstance(answer, CallError):
        return Outcome.FAILED
    status = answer.payload.get("status")
    if status in ("Accepted", "Scheduled"):
        return Outcome.ACCEPTED
    return Outcome.REJECTED
