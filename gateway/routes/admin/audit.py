"""The admin API's audit log: admin actions and partner commands, newest first."""

from __future__ import annotations

from aiohttp import web

from gateway import cursors
from gateway.admin_schemas import AuditPage, AuditQuery, audit_json
from gateway.api import Endpoint, Reply
from gateway.jsonio import json_response
from gateway.routes.paths import ADMIN
from gateway.schemas import ISO_EXAMPLE
from gateway.state import POOL
from shared import registry


async def audit_log(request: web.Request) -> web.Response:
    query = AUDIT_LOG.query_of(request)
    before = cursors.time_and_id(query.cursor)
    found = await registry.audit_entries(
        request.app[POOL],
        actor=query.actor,
        action=query.action,
        target=query.target,
        since=query.from_,
        until=query.to,
        before=before,
        limit=query.limit + 1,
    )
    page = found[: query.limit]
    answer: AuditPage = {
        "entries": [audit_json(e) for e in page],
        "nextCursor": (
            cursors.encode(page[-1].at.isoformat(), page[-1].ref)
            if len(found) > query.limit
            else None
        ),
    }
    return json_response(answer)


AUDIT_LOG = Endpoint(
    "GET",
    f"{ADMIN}/audit",
    audit_log,
    "adminAuditLog",
    "The audit log: admin actions and partner commands",
    "admin: audit",
    access="admin",
    description="Who (actor), what (action, target, details) and when (at), newest first."
    " Partner commands appear as `command.<action>` by `partner:<id>` with their outcome,"
    " operators' commands as `command.<OCPP action>` by the admin who sent them.",
    query=AuditQuery,
    replies={
        200: Reply(
            "A page of entries",
            AuditPage,
            {
                "entries": [
                    {
                        "at": ISO_EXAMPLE,
                        "actor": "admin:alice",
                        "action": "api_key.revoke",
                        "target": "acme",
                        "details": {"key_id": "key_8c1d2e3f4a5b6c7d"},
                    }
                ],
                "nextCursor": None,
            },
        )
    },
)
