"""Commands to one charger: switch it on or off, make it available or inoperative, unlock a
connector, reset it;
synchronously (the charger's answer) or asynchronously (202 and a command id), and
idempotently under an Idempotency-Key."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway import idempotency
from gateway.api import Endpoint, Reply
from gateway.command_log import Order
from gateway.command_schemas import (
    CommandAcceptedJson,
    CommandQuery,
    CommandResultJson,
    ControlRequest,
    ResetRequest,
    StatusChangeRequest,
    UnlockRequest,
)
from gateway.commands import Location, Settled, failure_message, http_status
from gateway.errors import ApiError
from gateway.jsonio import json_response
from gateway.ownership import charger_hash, charger_id_of, require_owned
from gateway.routes.params import CHARGER, IDEMPOTENCY_KEY, PREFER
from gateway.routes.paths import API
from gateway.state import DISPATCH, partner_id
from shared.bus import Action, Outcome
from shared.ids import new_id
from shared.redis_keys import F

_COMMAND_RESULT = {
    "commandId": "cmd_5f2b9c0a1d3e4f60",
    "chargerId": "CP-0001",
    "action": "on",
    "status": "Accepted",
    "outcome": "ACCEPTED",
    "ocppAction": "RemoteStartTransaction",
    "chargerResponse": {"status": "Accepted"},
}
_COMMAND_ACCEPTED = {
    "commandId": "cmd_5f2b9c0a1d3e4f60",
    "chargerId": "CP-0001",
    "action": "on",
    "state": "PENDING",
    "location": "/api/v1/commands/cmd_5f2b9c0a1d3e4f60",
}
_COMMAND_ERRORS = {
    404: "The charger is unknown or not the partner's",
    409: "The charger is not connected (outcome EVSE_OFFLINE) or the command does not apply"
    " to its state (NOT_SUPPORTED); or a request with the same Idempotency-Key is still running",
    422: "The Idempotency-Key was used with a different request",
    502: "The charger answered with an OCPP error (outcome FAILED)",
    503: "The charger's csms node is unreachable (outcome FAILED); nothing was sent",
    504: "No answer from the charger (or its node) in time (outcome TIMEOUT)",
}
_SYNC_OR_ASYNC = (
    "Synchronous by default: the answer is the charger's (Accepted or Rejected) and other"
    " outcomes are errors carrying `commandId` and `outcome`. With `?mode=async` or"
    " `Prefer: respond-async` the answer is 202 with a command id at once; the outcome then"
    " arrives as a `command` event on GET /events and at GET /commands/{commandId}."
)


def present(**params: Any) -> dict[str, Any]:
    """The OCPP parameters that were given."""
    return {name: value for name, value in params.items() if value is not None}


def prefers_async(prefer_headers: list[str]) -> bool:
    """RFC 7240: does any Prefer header carry the respond-async preference?"""
    return any(
        part.split(";", 1)[0].strip().lower() == "respond-async"
        for header in prefer_headers
        for part in header.split(",")
    )


def asynchronous(request: web.Request, endpoint: Endpoint[CommandQuery, Any]) -> bool:
    """Is the command to run asynchronously? The endpoint's ?mode= decides when given;
    otherwise `Prefer: respond-async`."""
    query = endpoint.query_of(request)
    if "mode" in request.query:
        return query.mode == "async"
    return prefers_async(request.headers.getall("Prefer", []))


def mode(is_async: bool) -> str:
    """The mode as the command log and the idempotency fingerprint name it."""
    return "async" if is_async else "sync"


def command_location(command_id: str) -> str:
    return f"{API}/commands/{command_id}"


def accepted_headers(command_id: str | None) -> dict[str, str]:
    headers = {"Preference-Applied": "respond-async"}
    if command_id is not None:
        headers["Location"] = command_location(command_id)
    return headers


def _result(order: Order, settled: Settled) -> CommandResultJson:
    reply = settled.reply
    accepted = reply.outcome is Outcome.ACCEPTED
    return {
        "commandId": order.command_id,
        "chargerId": order.charger_id,
        "action": order.label,
        "status": "Accepted" if accepted else "Rejected",
        "outcome": "ACCEPTED" if accepted else "REJECTED",
        "ocppAction": reply.ocpp_action,
        "chargerResponse": reply.response,
    }


async def _one(request: web.Request, order: Order, is_async: bool, where: Location) -> web.Response:
    dispatch = request.app[DISPATCH]
    partner = partner_id(request)
    await dispatch.take(partner, [order], mode(is_async))
    if is_async:
        dispatch.run_later(partner, [order])
        accepted: CommandAcceptedJson = {
            "commandId": order.command_id,
            "chargerId": order.charger_id,
            "action": order.label,
            "state": "PENDING",
            "location": command_location(order.command_id),
        }
        response = json_response(accepted, status=202)
        response.headers.update(accepted_headers(order.command_id))
        return response
    [settled] = await dispatch.run(partner, [order], {order.charger_id: where})
    status = http_status(settled)
    if status == 200:
        return json_response(_result(order, settled))
    raise ApiError(
        status,
        failure_message(settled),
        extra={"commandId": order.command_id, "outcome": settled.reply.outcome.value},
    )


async def _command(
    request: web.Request,
    endpoint: Endpoint[CommandQuery, Any],
    charger_id: str,
    action: Action,
    params: dict[str, Any],
    body: str,
) -> web.Response:
    is_async = asynchronous(request, endpoint)
    key = idempotency.key_of(request)
    fields = await require_owned(request, charger_id)
    where = (fields.get(F.NODE), fields.get(F.ONLINE))
    order = Order(new_id("cmd"), charger_id, action, params)
    fingerprint = idempotency.fingerprint(request.method, request.path, body, mode(is_async))
    return await idempotency.once(
        request, key, fingerprint, lambda: _one(request, order, is_async, where)
    )


async def control(request: web.Request) -> web.Response:
    """on -> RemoteStart/RequestStartTransaction, off -> stop the running transaction."""
    charger_id = charger_id_of(request)
    body = await CONTROL.body_of(request)
    action = Action.START if body.action == "on" else Action.STOP
    params = present(connectorId=body.connector_id, idTag=body.id_tag)
    return await _command(request, CONTROL, charger_id, action, params, body.model_dump_json())


CONTROL = Endpoint(
    "POST",
    f"{API}/chargers/{{chargerId}}/control",
    control,
    "controlCharger",
    "Switch a charger on or off",
    "commands",
    access="partner",
    description="on: RemoteStartTransaction (1.6) / RequestStartTransaction (2.0.1);"
    " off: RemoteStopTransaction / RequestStopTransaction of the running session. "
    + _SYNC_OR_ASYNC,
    query=CommandQuery,
    body=ControlRequest,
    body_example={"action": "on", "connectorId": 1, "idTag": "PARTNER-TAG-1"},
    params=(CHARGER, IDEMPOTENCY_KEY, PREFER),
    replies={
        200: Reply(
            "The charger's answer",
            CommandResultJson,
            _COMMAND_RESULT,
            headers=("Idempotent-Replayed",),
        ),
        202: Reply(
            "Taken: the outcome follows",
            CommandAcceptedJson,
            _COMMAND_ACCEPTED,
            headers=("Location", "Preference-Applied", "Idempotent-Replayed"),
        ),
    },
    errors=_COMMAND_ERRORS,
    prefetch=charger_hash,
)


async def change_status(request: web.Request) -> web.Response:
    """AVAILABLE / INOPERATIVE -> ChangeAvailability Operative / Inoperative."""
    charger_id = charger_id_of(request)
    body = await CHANGE_STATUS.body_of(request)
    params = present(operative=body.status == "AVAILABLE", connectorId=body.connector_id)
    return await _command(
        request, CHANGE_STATUS, charger_id, Action.AVAILABILITY, params, body.model_dump_json()
    )


CHANGE_STATUS = Endpoint(
    "PUT",
    f"{API}/chargers/{{chargerId}}/status",
    change_status,
    "changeChargerStatus",
    "Make a charger available or take it out of service",
    "commands",
    access="partner",
    description="AVAILABLE / INOPERATIVE become OCPP ChangeAvailability Operative /"
    " Inoperative, for the whole charger or one connector. " + _SYNC_OR_ASYNC,
    query=CommandQuery,
    body=StatusChangeRequest,
    body_example={"status": "INOPERATIVE"},
    params=(CHARGER, IDEMPOTENCY_KEY, PREFER),
    replies={
        200: Reply(
            "The charger's answer",
            CommandResultJson,
            {**_COMMAND_RESULT, "action": "availability", "ocppAction": "ChangeAvailability"},
            headers=("Idempotent-Replayed",),
        ),
        202: Reply(
            "Taken: the outcome follows",
            CommandAcceptedJson,
            {**_COMMAND_ACCEPTED, "action": "availability"},
            headers=("Location", "Preference-Applied", "Idempotent-Replayed"),
        ),
    },
    errors=_COMMAND_ERRORS,
    prefetch=charger_hash,
)


async def unlock(request: web.Request) -> web.Response:
    """UnlockConnector: the support call for a cable stuck in the socket."""
    charger_id = charger_id_of(request)
    body = await UNLOCK.body_of(request)
    params = present(connectorId=body.connector_id, evseConnectorId=body.evse_connector_id)
    return await _command(
        request, UNLOCK, charger_id, Action.UNLOCK, params, body.model_dump_json()
    )


UNLOCK = Endpoint(
    "POST",
    f"{API}/chargers/{{chargerId}}/unlock",
    unlock,
    "unlockConnector",
    "Unlock a connector",
    "commands",
    access="partner",
    description="OCPP UnlockConnector, for a cable the driver cannot pull out. The charger's"
    " answer is in `chargerResponse.status` (1.6: Unlocked, UnlockFailed, NotSupported;"
    " 2.0.1: also OngoingAuthorizedTransaction, UnknownConnector). " + _SYNC_OR_ASYNC,
    query=CommandQuery,
    body=UnlockRequest,
    body_example={"connectorId": 1},
    params=(CHARGER, IDEMPOTENCY_KEY, PREFER),
    replies={
        200: Reply(
            "The charger's answer",
            CommandResultJson,
            {
                **_COMMAND_RESULT,
                "action": "unlock",
                "ocppAction": "UnlockConnector",
                "chargerResponse": {"status": "Unlocked"},
            },
            headers=("Idempotent-Replayed",),
        ),
        202: Reply(
            "Taken: the outcome follows",
            CommandAcceptedJson,
            {**_COMMAND_ACCEPTED, "action": "unlock"},
            headers=("Location", "Preference-Applied", "Idempotent-Replayed"),
        ),
    },
    errors=_COMMAND_ERRORS,
    prefetch=charger_hash,
)


async def reset(request: web.Request) -> web.Response:
    """Reset Soft/Hard (1.6) or OnIdle/Immediate (2.0.1)."""
    charger_id = charger_id_of(request)
    body = await RESET.body_of(request)
    return await _command(
        request, RESET, charger_id, Action.RESET, {"type": body.type}, body.model_dump_json()
    )


RESET = Endpoint(
    "POST",
    f"{API}/chargers/{{chargerId}}/reset",
    reset,
    "resetCharger",
    "Restart a charger",
    "commands",
    access="partner",
    description="OCPP Reset. Soft waits until no session runs (1.6 Soft, 2.0.1 OnIdle); Hard"
    " restarts at once and ends running sessions (1.6 Hard, 2.0.1 Immediate). The charger"
    " goes offline and comes back with a new boot. " + _SYNC_OR_ASYNC,
    query=CommandQuery,
    body=ResetRequest,
    body_example={"type": "Soft"},
    params=(CHARGER, IDEMPOTENCY_KEY, PREFER),
    replies={
        200: Reply(
            "The charger's answer",
            CommandResultJson,
            {**_COMMAND_RESULT, "action": "reset", "ocppAction": "Reset"},
            headers=("Idempotent-Replayed",),
        ),
        202: Reply(
            "Taken: the outcome follows",
            CommandAcceptedJson,
            {**_COMMAND_ACCEPTED, "action": "reset"},
            headers=("Location", "Preference-Applied", "Idempotent-Replayed"),
        ),
    },
    errors=_COMMAND_ERRORS,
    prefetch=charger_hash,
)
