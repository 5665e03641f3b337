"""A partner's command and its outcome, by id."""

from __future__ import annotations

import re

from aiohttp import web

from gateway import command_log
from gateway.api import Endpoint, Param, Reply
from gateway.command_schemas import CommandJson
from gateway.errors import ApiError
from gateway.jsonio import json_response
from gateway.routes.paths import API
from gateway.schemas import ISO_EXAMPLE
from gateway.state import POOL, partner_id

COMMAND_ID_PATTERN = r"^cmd_[0-9a-f]{16}$"
_COMMAND_ID = re.compile(COMMAND_ID_PATTERN)


def valid_command_id(command_id: str) -> bool:
    return _COMMAND_ID.fullmatch(command_id) is not None


COMMAND = Param(
    "commandId",
    "path",
    "A command id from a command's answer",
    {"type": "string", "pattern": COMMAND_ID_PATTERN},
    "cmd_5f2b9c0a1d3e4f60",
)


async def get_command(request: web.Request) -> web.Response:
    command_id = request.match_info["commandId"]
    found = None
    if valid_command_id(command_id):
        found = await command_log.find(request.app[POOL], command_id, partner_id(request))
    if found is None:
        # another partner's command looks exactly like one that never existed
        raise ApiError(404, "command not found")
    return json_response(found)


GET_COMMAND = Endpoint(
    "GET",
    f"{API}/commands/{{commandId}}",
    get_command,
    "getCommand",
    "A command's state and the charger's answer",
    "commands",
    access="partner",
    description="Any command the partner sent (synchronous or not). `state` is PENDING"
    " until the outcome is known.",
    params=(COMMAND,),
    replies={
        200: Reply(
            "The command",
            CommandJson,
            {
                "commandId": "cmd_5f2b9c0a1d3e4f60",
                "chargerId": "CP-0001",
                "action": "on",
                "mode": "async",
                "state": "ACCEPTED",
                "createdAt": ISO_EXAMPLE,
                "completedAt": ISO_EXAMPLE,
                "ocppAction": "RemoteStartTransaction",
                "chargerResponse": {"status": "Accepted"},
                "message": None,
            },
        )
    },
    errors={404: "No such command of this partner"},
)
