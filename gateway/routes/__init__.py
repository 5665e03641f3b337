"""The route table: every route is declared beside its handler; this puts them in order.

Order matters: aiohttp tries routes as they were added, so `/chargers/batch/...` comes
before `/chargers/{chargerId}/...`, or "batch" would be read as a charger id. The OpenAPI
document lists the endpoints in this order too.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.api import Endpoint, Route, serve
from gateway.routes import (
    batch_control,
    chargers,
    commands,
    console,
    control,
    docs,
    events,
    history,
    ops,
    tokens,
)
from gateway.routes.admin import audit, keys, local_lists, partners, session, system
from gateway.routes.admin import chargers as admin_chargers
from gateway.routes.admin import commands as admin_commands
from gateway.routes.admin import events as admin_events
from gateway.routes.admin import history as admin_history
from gateway.routes.admin import tokens as admin_tokens

PARTNER_ENDPOINTS: tuple[Endpoint[Any, Any], ...] = (
    ops.HEALTH,
    ops.READY,
    chargers.LIST_CHARGERS,
    chargers.BATCH_STATUS_GET,
    chargers.BATCH_STATUS_POST,
    batch_control.BATCH_CONTROL,
    chargers.CHARGER_STATUS,
    control.CHANGE_STATUS,
    control.CONTROL,
    control.UNLOCK,
    control.RESET,
    history.METER_VALUES,
    history.SESSIONS,
    commands.GET_COMMAND,
    tokens.LIST_TOKENS,
    tokens.PUT_TOKEN,
    tokens.GET_TOKEN,
    tokens.UPDATE_TOKEN,
    tokens.TOKEN_SESSIONS,
    events.EVENTS,
)

ADMIN_ENDPOINTS: tuple[Endpoint[Any, Any], ...] = (
    partners.CREATE_PARTNER,
    partners.LIST_PARTNERS,
    partners.GET_PARTNER,
    partners.UPDATE_PARTNER,
    partners.SUSPEND_PARTNER,
    partners.REACTIVATE_PARTNER,
    partners.DELETE_PARTNER,
    keys.ISSUE_KEY,
    keys.LIST_PARTNER_KEYS,
    keys.FIND_KEYS,
    keys.ROTATE_KEY,
    keys.REVOKE_KEY,
    admin_chargers.REGISTER_CHARGER,
    admin_chargers.LIST_CHARGERS,
    admin_chargers.GET_CHARGER,
    admin_chargers.DECOMMISSION_CHARGER,
    admin_chargers.ASSIGN_CHARGER,
    admin_chargers.UNASSIGN_CHARGER,
    admin_chargers.SET_PASSWORD,
    admin_history.STATUS_EVENTS,
    admin_history.ADMIN_METER_VALUES,
    admin_history.ADMIN_SESSIONS,
    admin_history.CHARGER_COMMANDS,
    admin_commands.SEND_COMMAND,
    admin_commands.GET_COMMAND,
    local_lists.SEND_LOCAL_LIST,
    local_lists.GET_LOCAL_LIST,
    admin_tokens.CREATE_TOKEN,
    admin_tokens.LIST_TOKENS,
    admin_tokens.GET_TOKEN,
    admin_tokens.UPDATE_TOKEN,
    admin_tokens.DELETE_TOKEN,
    audit.AUDIT_LOG,
    admin_events.ADMIN_EVENTS,
    system.SYSTEM,
    session.CREATE_SESSION,
    session.GET_SESSION,
    session.END_SESSION,
)

ENDPOINTS = PARTNER_ENDPOINTS + ADMIN_ENDPOINTS

# Served but not documented: the documentation itself and the operator console's static
# files (the console calls only documented endpoints).
UNDOCUMENTED: tuple[Route, ...] = (*docs.ROUTES, *console.ROUTES)


def add_routes(app: web.Application) -> None:
    serve(app, (*ENDPOINTS, *UNDOCUMENTED))
