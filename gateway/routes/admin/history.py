"""A charger's history for operators: its status changes, meter values (raw or averaged for a
chart), sessions and commands, whoever owned it; the same queries partners' history uses."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from gateway import command_log, cursors, history
from gateway.api import Endpoint, Reply
from gateway.command_schemas import AdminCommandPage, AdminCommandsQuery
from gateway.history_schemas import AdminMeterQuery, HistoryQuery, StatusChangePage
from gateway.jsonio import json_response
from gateway.ownership import charger_id_of
from gateway.routes.history import METER_VALUES, SESSIONS
from gateway.routes.params import CHARGER
from gateway.routes.paths import ADMIN
from gateway.schemas import ISO_EXAMPLE
from gateway.state import POOL
from shared import registry

_NO_CHARGER = {404: "No such charger"}


async def _charger_id(request: web.Request) -> str:
    """The path's charger, registered (decommissioned ones too), or 404."""
    charger_id = charger_id_of(request)
    await registry.get_charger(request.app[POOL], charger_id)
    return charger_id


async def status_events(request: web.Request) -> web.Response:
    query = STATUS_EVENTS.query_of(request)
    charger_id = await _charger_id(request)
    start, to = history.window(query, datetime.now(UTC))
    page = await history.status_changes(
        request.app[POOL], charger_id, start, to, query.cursor, query.limit
    )
    return json_response(page)


STATUS_EVENTS = Endpoint(
    "GET",
    f"{ADMIN}/chargers/{{chargerId}}/status-events",
    status_events,
    "adminChargerStatusEvents",
    "A charger's status changes over a time window",
    "admin: history",
    access="admin",
    description="Every status notification of its connectors (or EVSEs) as recorded in the"
    " history database, newest first, with the raw OCPP status and the partner status it"
    " maps to.",
    query=HistoryQuery,
    params=(CHARGER,),
    replies={
        200: Reply(
            "A page of status changes",
            StatusChangePage,
            {
                "statusEvents": [
                    {
                        "receivedAt": ISO_EXAMPLE,
                        "timestamp": ISO_EXAMPLE,
                        "connectorId": 1,
                        "status": "CHARGING",
                        "ocppStatus": "Charging",
                        "errorCode": "NoError",
                    }
                ],
                "nextCursor": None,
            },
        )
    },
    errors=_NO_CHARGER,
)


async def meter_values(request: web.Request) -> web.Response:
    query = ADMIN_METER_VALUES.query_of(request)
    charger_id = await _charger_id(request)
    start, to = history.window(query, datetime.now(UTC))
    pool = request.app[POOL]
    if query.bucket_seconds is None:
        page = await history.meter_page(
            pool, charger_id, start, to, query.measurand, query.cursor, query.limit
        )
    else:
        page = await history.meter_series(
            pool,
            charger_id,
            start,
            to,
            query.measurand,
            query.bucket_seconds,
            query.cursor,
            query.limit,
        )
    return json_response(page)


ADMIN_METER_VALUES = Endpoint(
    "GET",
    f"{ADMIN}/chargers/{{chargerId}}/meter-values",
    meter_values,
    "adminChargerMeterValues",
    "A charger's meter values over a time window, raw or per time bucket",
    "admin: history",
    access="admin",
    description="As the partners' meter values, oldest first, whoever owned the charger."
    " With `bucketSeconds` the values are averaged per bucket, connector, measurand and"
    " phase: hours of a charger sampling every second in a few hundred values.",
    query=AdminMeterQuery,
    params=(CHARGER,),
    replies={200: METER_VALUES.replies[200]},
    errors=_NO_CHARGER,
)


async def sessions(request: web.Request) -> web.Response:
    query = ADMIN_SESSIONS.query_of(request)
    charger_id = await _charger_id(request)
    start, to = history.window(query, datetime.now(UTC))
    page = await history.charger_sessions(
        request.app[POOL], charger_id, start, to, query.cursor, query.limit
    )
    return json_response(page)


ADMIN_SESSIONS = Endpoint(
    "GET",
    f"{ADMIN}/chargers/{{chargerId}}/sessions",
    sessions,
    "adminChargerSessions",
    "A charger's charging sessions (transactions)",
    "admin: history",
    access="admin",
    description="Sessions that started in the window, newest first (the running one with"
    " `active` true), whoever owned the charger.",
    query=HistoryQuery,
    params=(CHARGER,),
    replies={200: SESSIONS.replies[200]},
    errors=_NO_CHARGER,
)


async def commands(request: web.Request) -> web.Response:
    query = CHARGER_COMMANDS.query_of(request)
    charger_id = await _charger_id(request)
    found = await command_log.of_charger(
        request.app[POOL], charger_id, cursors.time_and_id(query.cursor), query.limit + 1
    )
    page = found[: query.limit]
    answer: AdminCommandPage = {
        "commands": [command for _, command in page],
        "nextCursor": (
            cursors.encode(page[-1][0].isoformat(), page[-1][1]["commandId"])
            if len(found) > query.limit
            else None
        ),
    }
    return json_response(answer)


CHARGER_COMMANDS = Endpoint(
    "GET",
    f"{ADMIN}/chargers/{{chargerId}}/commands",
    commands,
    "adminChargerCommands",
    "A charger's recent commands and their outcomes",
    "admin: history",
    access="admin",
    description="Every command sent to the charger, partners' (on, off, availability, …) and"
    " operators' (OCPP messages), newest first, with who sent it, what it asked for"
    " (passwords and keys masked) and its state (PENDING until the outcome is known).",
    query=AdminCommandsQuery,
    params=(CHARGER,),
    replies={
        200: Reply(
            "A page of commands",
            AdminCommandPage,
            {
                "commands": [
                    {
                        "commandId": "cmd_5f2b9c0a1d3e4f60",
                        "chargerId": "CP-0001",
                        "action": "Reset",
                        "mode": "sync",
                        "state": "ACCEPTED",
                        "createdAt": ISO_EXAMPLE,
                        "completedAt": ISO_EXAMPLE,
                        "ocppAction": "Reset",
                        "chargerResponse": {"status": "Accepted"},
                        "message": None,
                        "partnerId": None,
                        "actor": "console:alice",
                        "request": {"action": "Reset", "payload": {"type": "Soft"}},
                    }
                ],
                "nextCursor": None,
            },
        )
    },
    errors=_NO_CHARGER,
)
