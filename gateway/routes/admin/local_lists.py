"""Operators' local authorization lists: send a charger its list from the token store (full or
differential, versioned per charger), and read the list it holds."""

from __future__ import annotations

from typing import cast

from aiohttp import web

from gateway.api import Endpoint, Reply
from gateway.command_log import iso
from gateway.command_schemas import (
    LocalListEntryJson,
    LocalListJson,
    LocalListSentJson,
    LocalListUpdate,
)
from gateway.commands import http_status
from gateway.errors import ApiError
from gateway.fleet import charger_protocol
from gateway.jsonio import json_response
from gateway.local_lists import send_local_list
from gateway.ownership import charger_id_of
from gateway.routes.admin.commands import failure
from gateway.routes.admin.common import actor
from gateway.routes.params import CHARGER
from gateway.routes.paths import ADMIN
from gateway.schemas import ISO_EXAMPLE
from gateway.state import DISPATCH, KEYS, POOL, REDIS
from gateway.token_schemas import TokenStatus
from shared import registry
from shared.bus import Outcome
from shared.registry import local_lists as ll


async def send_list(request: web.Request) -> web.Response:
    charger_id = charger_id_of(request)
    body = await SEND_LOCAL_LIST.body_of(request)
    app = request.app
    charger = await registry.get_charger(app[POOL], charger_id)  # whose tokens go in the list
    protocol, _ = await charger_protocol(app[POOL], app[REDIS], app[KEYS], charger_id)
    if protocol is None:
        raise ApiError(409, "the charger has never connected: its OCPP version is unknown")
    sent = await send_local_list(
        app[POOL], app[DISPATCH], charger, protocol, body.update_type, actor(request)
    )
    if http_status(sent.settled) != 200:
        raise failure(sent.order, sent.settled)
    reply = sent.settled.reply
    answer: LocalListSentJson = {
        "commandId": sent.order.command_id,
        "chargerId": charger_id,
        "versionNumber": sent.update.version,
        "updateType": "Full" if sent.update.update_type == "Full" else "Differential",
        "changed": [e.id for e in sent.update.changed],
        "removed": sent.update.removed,
        "outcome": "ACCEPTED" if reply.outcome is Outcome.ACCEPTED else "REJECTED",
        "chargerResponse": reply.response or {},
    }
    return json_response(answer)


SEND_LOCAL_LIST = Endpoint(
    "POST",
    f"{ADMIN}/chargers/{{chargerId}}/local-list",
    send_list,
    "adminSendLocalList",
    "Send a charger its local authorization list",
    "admin: commands",
    access="admin",
    description="SendLocalList built from the token store: the operator's own tokens and"
    " those of the charger's partner, with their status, expiry and group (1.6 idTags longer"
    " than 20 characters cannot be carried and are left out). Each accepted list gets the"
    " next version; a Differential update sends only what changed since the list the charger"
    " holds. A charger answering VersionMismatch needs a Full update.",
    body=LocalListUpdate,
    body_example={"updateType": "Full"},
    params=(CHARGER,),
    replies={
        200: Reply(
            "The list sent and the charger's answer",
            LocalListSentJson,
            {
                "commandId": "cmd_5f2b9c0a1d3e4f60",
                "chargerId": "CP-0001",
                "versionNumber": 3,
                "updateType": "Differential",
                "changed": ["04A2B3C4D5E6F7"],
                "removed": ["0499AABBCC"],
                "outcome": "ACCEPTED",
                "chargerResponse": {"status": "Accepted"},
            },
        )
    },
    errors={
        404: "No such charger",
        409: "The charger is not connected, or has never connected",
        502: "The charger answered with a CALLERROR",
        503: "The charger's csms node is unreachable; nothing was sent",
        504: "No answer from the charger in time",
    },
)


def _entry(e: ll.ListEntry) -> LocalListEntryJson:
    return {
        "idToken": e.id,
        "status": cast(TokenStatus, e.status),  # the tokens table's CHECK allows only these
        "expiresAt": e.expires,
        "groupId": e.group,
        "type": e.type,
    }


async def get_list(request: web.Request) -> web.Response:
    charger_id = charger_id_of(request)
    pool = request.app[POOL]
    await registry.get_charger(pool, charger_id)
    held = await ll.held_list(pool, charger_id)
    answer: LocalListJson = {
        "chargerId": charger_id,
        "versionNumber": held.version,
        "sentAt": iso(held.sent_at),
        "pending": held.pending,
        "entries": [_entry(e) for e in sorted(held.entries.values())],
    }
    return json_response(answer)


GET_LOCAL_LIST = Endpoint(
    "GET",
    f"{ADMIN}/chargers/{{chargerId}}/local-list",
    get_list,
    "adminGetLocalList",
    "The local authorization list a charger holds",
    "admin: commands",
    access="admin",
    description="As the charger last accepted it. GetLocalListVersion (through the command"
    " API) asks the charger itself.",
    params=(CHARGER,),
    replies={
        200: Reply(
            "The list",
            LocalListJson,
            {
                "chargerId": "CP-0001",
                "versionNumber": 3,
                "sentAt": ISO_EXAMPLE,
                "pending": False,
                "entries": [
                    {
                        "idToken": "04A2B3C4D5E6F7",
                        "status": "Accepted",
                        "expiresAt": None,
                        "groupId": "FLEET-7",
                        "type": "ISO14443",
                    }
                ],
            },
        )
    },
    errors={404: "No such charger"},
)
