"""Commands: switch a charger on or off, and make it available or inoperative."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.commands import result
from gateway.errors import ApiError
from gateway.jsonio import json_response, read_json
from gateway.observe import COMMANDS
from gateway.ownership import charger_id_of, require_owned
from gateway.schemas import ControlRequest, StatusChangeRequest
from gateway.state import BUS, SETTINGS, partner_id
from shared.bus import Action

# What the gateway itself concluded, when no reply came from a node, by HTTP status.
_GATEWAY_OUTCOMES = {409: "EVSE_OFFLINE", 503: "NODE_UNREACHABLE", 504: "NO_REPLY"}


def _present(**params: Any) -> dict[str, Any]:
    return {name: value for name, value in params.items() if value is not None}


async def _run(
    request: web.Request, charger_id: str, action: Action, params: dict[str, Any], label: str
) -> web.Response:
    await require_owned(request, charger_id)
    try:
        reply = await request.app[BUS].send(
            charger_id, partner_id(request), action, params, request.app[SETTINGS].command_timeout
        )
    except ApiError as exc:
        COMMANDS.labels(action.value, _GATEWAY_OUTCOMES.get(exc.status, "ERROR")).inc()
        raise
    COMMANDS.labels(action.value, reply.outcome.value).inc()
    return json_response(result(reply, charger_id, label))


async def control(request: web.Request) -> web.Response:
    """on -> RemoteStart/RequestStartTransaction, off -> stop the running transaction."""
    charger_id = charger_id_of(request)
    body = await read_json(request, ControlRequest)
    action = Action.START if body.action == "on" else Action.STOP
    params = _present(connectorId=body.connector_id, idTag=body.id_tag)
    return await _run(request, charger_id, action, params, body.action)


async def change_status(request: web.Request) -> web.Response:
    """AVAILABLE / INOPERATIVE -> ChangeAvailability Operative / Inoperative."""
    charger_id = charger_id_of(request)
    body = await read_json(request, StatusChangeRequest)
    params = _present(operative=body.status == "AVAILABLE", connectorId=body.connector_id)
    return await _run(request, charger_id, Action.AVAILABILITY, params, "availability")
