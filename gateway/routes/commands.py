"""A partner's command and its outcome, by id."""

from __future__ import annotations

import re

from aiohttp import web

from gateway import command_log
from gateway.errors import ApiError
from gateway.jsonio import json_response
from gateway.state import POOL, partner_id

COMMAND_ID_PATTERN = r"^cmd_[0-9a-f]{16}$"
_COMMAND_ID = re.compile(COMMAND_ID_PATTERN)


async def get_command(request: web.Request) -> web.Response:
    command_id = request.match_info["commandId"]
    found = None
    if _COMMAND_ID.fullmatch(command_id):
        found = await command_log.find(request.app[POOL], partner_id(request), command_id)
    if found is None:
        # another partner's command looks exactly like one that never existed
        raise ApiError(404, "command not found")
    return json_response(found)
