"""Operators' commands: any OCPP message a central system sends, to one charger, checked
against the official schema of the charger's version before it is sent; and any command's
state by id."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway import command_log
from gateway.api import Endpoint, Reply
from gateway.command_log import Order
from gateway.command_schemas import (
    CommandJson,
    CommandQuery,
    OperatorCommand,
    OperatorCommandAcceptedJson,
    OperatorCommandResultJson,
)
from gateway.commands import Settled, failure_message, http_status
from gateway.errors import ApiError
from gateway.fleet import charger_protocol
from gateway.jsonio import json_response
from gateway.ownership import charger_id_of
from gateway.routes.admin.common import actor
from gateway.routes.commands import COMMAND, valid_command_id
from gateway.routes.control import accepted_headers, asynchronous, mode
from gateway.routes.params import CHARGER
from gateway.routes.paths import ADMIN
from gateway.schemas import ISO_EXAMPLE
from gateway.state import DISPATCH, KEYS, POOL, REDIS
from shared import ocpp_schemas
from shared.bus import Outcome


async def _protocol(request: web.Request, charger_id: str) -> tuple[str, bool]:
    app = request.app
    protocol, online = await charger_protocol(app[POOL], app[REDIS], app[KEYS], charger_id)
    if protocol is None:
        raise ApiError(409, "the charger has never connected: its OCPP version is unknown")
    return protocol, online


def checked(protocol: str, action: str, payload: dict[str, Any]) -> None:
    """422 unless `action` is a message a central system sends in `protocol` and `payload`
    matches its official schema: nothing invalid reaches a charger."""
    problem = ocpp_schemas.csms_message_problem(protocol, action, payload)
    if problem is None:
        return
    extra = {}
    if action not in ocpp_schemas.CSMS_ACTIONS[protocol]:
        extra["actions"] = sorted(ocpp_schemas.CSMS_ACTIONS[protocol])
    raise ApiError(422, problem, extra=extra)


def _answer(order: Order, protocol: str, settled: Settled) -> web.Response:
    reply = settled.reply
    if http_status(settled) != 200:
        raise failure(order, settled)
    result: OperatorCommandResultJson = {
        "commandId": order.command_id,
        "chargerId": order.charger_id,
        "action": order.label,
        "protocol": "ocpp1.6" if protocol == "ocpp1.6" else "ocpp2.0.1",
        "outcome": "ACCEPTED" if reply.outcome is Outcome.ACCEPTED else "REJECTED",
        "chargerResponse": reply.response or {},
    }
    return json_response(result)


def failure(order: Order, settled: Settled) -> ApiError:
    """The error for a command that did not get an answer (or got a CALLERROR)."""
    reply = settled.reply
    extra: dict[str, object] = {"commandId": order.command_id, "outcome": reply.outcome.value}
    response = reply.response or {}
    if reply.outcome is Outcome.FAILED and "errorCode" in response:
        extra["ocppError"] = {
            "code": response["errorCode"],
            "description": response.get("description", ""),
        }
    return ApiError(http_status(settled), failure_message(settled), extra=extra)


async def send_command(request: web.Request) -> web.Response:
    charger_id = charger_id_of(request)
    body = await SEND_COMMAND.body_of(request)
    is_async = asynchronous(request, SEND_COMMAND)
    protocol, online = await _protocol(request, charger_id)
    if online:
        # (an offline charger's command ends EVSE_OFFLINE, recorded, whatever its payload)
        checked(protocol, body.action, body.params)
    order = Order.ocpp(charger_id, body.action, body.params)
    dispatch = request.app[DISPATCH]
    if not is_async:
        return _answer(order, protocol, await dispatch.operator_sync(order, actor(request)))
    await dispatch.take(None, [order], mode(is_async), actor=actor(request))
    dispatch.run_later(None, [order])
    location = f"{ADMIN}/commands/{order.command_id}"
    accepted: OperatorCommandAcceptedJson = {
        "commandId": order.command_id,
        "chargerId": charger_id,
        "action": order.label,
        "state": "PENDING",
        "location": location,
    }
    response = json_response(accepted, status=202)
    response.headers.update({**accepted_headers(None), "Location": location})
    return response


SEND_COMMAND = Endpoint(
    "POST",
    f"{ADMIN}/chargers/{{chargerId}}/commands",
    send_command,
    "adminSendCommand",
    "Send any OCPP message to a charger",
    "admin: commands",
    access="admin",
    description="Every message a central system sends, in the charger's version: OCPP 1.6"
    " with all its profiles (Core, Firmware Management, Local Auth List, Reservation, Smart"
    " Charging, Remote Trigger) and every OCPP 2.0.1 CSMS message. `params` is checked"
    " against the official schema first (422 with the schema error, and nothing is sent)."
    " Synchronous by default: 200 with the charger's answer; with `?mode=async` 202 at once"
    " and the outcome at GET /admin/commands/{commandId}. The command is recorded and shown"
    " in the audit log, with passwords and keys in its payload masked.",
    query=CommandQuery,
    body=OperatorCommand,
    body_example={"action": "Reset", "params": {"type": "Soft"}},
    params=(CHARGER,),
    replies={
        200: Reply(
            "The charger's answer",
            OperatorCommandResultJson,
            {
                "commandId": "cmd_5f2b9c0a1d3e4f60",
                "chargerId": "CP-0001",
                "action": "Reset",
                "protocol": "ocpp1.6",
                "outcome": "ACCEPTED",
                "chargerResponse": {"status": "Accepted"},
            },
        ),
        202: Reply(
            "Taken: the outcome follows",
            OperatorCommandAcceptedJson,
            {
                "commandId": "cmd_5f2b9c0a1d3e4f60",
                "chargerId": "CP-0001",
                "action": "Reset",
                "state": "PENDING",
                "location": f"{ADMIN}/commands/cmd_5f2b9c0a1d3e4f60",
            },
            headers=("Location", "Preference-Applied"),
        ),
    },
    errors={
        404: "No such charger",
        409: "The charger is not connected (outcome EVSE_OFFLINE), has never connected, or"
        " its state rules the message out (NOT_SUPPORTED)",
        422: "Not a message a central system sends in the charger's version, or the payload"
        " does not match its schema",
        502: "The charger answered with a CALLERROR (its code and description in `ocppError`)"
        " or with a payload that breaks the schema",
        503: "The charger's csms node is unreachable; nothing was sent",
        504: "No answer from the charger in time (outcome TIMEOUT)",
    },
)


async def get_command(request: web.Request) -> web.Response:
    command_id = request.match_info["commandId"]
    found = None
    if valid_command_id(command_id):
        found = await command_log.find(request.app[POOL], command_id)
    if found is None:
        raise ApiError(404, "command not found")
    return json_response(found)


GET_COMMAND = Endpoint(
    "GET",
    f"{ADMIN}/commands/{{commandId}}",
    get_command,
    "adminGetCommand",
    "Any command's state and the charger's answer",
    "admin: commands",
    access="admin",
    description="An operator's command or any partner's. `state` is PENDING until the"
    " outcome is known.",
    params=(COMMAND,),
    replies={
        200: Reply(
            "The command",
            CommandJson,
            {
                "commandId": "cmd_5f2b9c0a1d3e4f60",
                "chargerId": "CP-0001",
                "action": "UpdateFirmware",
                "mode": "async",
                "state": "ACCEPTED",
                "createdAt": ISO_EXAMPLE,
                "completedAt": ISO_EXAMPLE,
                "ocppAction": "UpdateFirmware",
                "chargerResponse": {},
                "message": None,
            },
        )
    },
    errors={404: "No such command"},
)
