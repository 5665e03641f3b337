"""What a charger last reported for its operator (recorded by the recorder from `report`
events): firmware update state, the last diagnostics or log upload, the last configuration
report and event notification, and recent security events, for the admin's view of one
charger."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal

import asyncpg

from gateway.admin_schemas import ChargerReportsJson
from gateway.command_log import iso

SECURITY_EVENTS_SHOWN = 10

_FIRMWARE = ("FirmwareStatusNotification", "SignedFirmwareStatusNotification")
_UPLOADS: dict[str, Literal["Diagnostics", "Log"]] = {
    "DiagnosticsStatusNotification": "Diagnostics",
    "LogStatusNotification": "Log",
}
_LATEST = (*_FIRMWARE, *_UPLOADS, "NotifyReport", "NotifyEvent")


async def charger_reports(pool: asyncpg.Pool, charger_id: str) -> ChargerReportsJson:
    """The latest report of each kind and the recent security events, in two queries."""
    latest = await pool.fetch(
        "SELECT DISTINCT ON (action) action, received_at, payload FROM charger_reports"
        " WHERE charger_id = $1 AND action = ANY($2::text[])"
        # a charger's reports share a stream shard: the entry id's sequence orders those
        # received in one millisecond
        " ORDER BY action, received_at DESC, split_part(stream_id, '-', 2)::bigint DESC",
        charger_id,
        list(_LATEST),
    )
    security = await pool.fetch(
        "SELECT received_at, payload FROM charger_reports"
        " WHERE charger_id = $1 AND action = 'SecurityEventNotification'"
        " ORDER BY received_at DESC, split_part(stream_id, '-', 2)::bigint DESC LIMIT $2",
        charger_id,
        SECURITY_EVENTS_SHOWN,
    )
    return summarize({r["action"]: (r["received_at"], r["payload"]) for r in latest}, security)


def _newest(
    found: dict[str, tuple[datetime, dict[str, Any]]], actions: Iterable[str]
) -> tuple[str, datetime, dict[str, Any]] | None:
    present = [(found[a][0], a) for a in actions if a in found]
    if not present:
        return None
    _, action = max(present)
    return action, *found[action]


def summarize(
    found: dict[str, tuple[datetime, dict[str, Any]]], security: list[Any]
) -> ChargerReportsJson:
    """The admin view of the latest reports by action (plain data in, JSON out)."""
    firmware = _newest(found, _FIRMWARE)
    upload = _newest(found, _UPLOADS)
    report = found.get("NotifyReport")
    event = found.get("NotifyEvent")
    return {
        "firmwareUpdate": None
        if firmware is None
        else {
            "status": firmware[2]["status"],
            "requestId": firmware[2].get("requestId"),
            "at": iso(firmware[1]) or "",
        },
        "lastUpload": None
        if upload is None
        else {
            "kind": _UPLOADS[upload[0]],
            "status": upload[2]["status"],
            "requestId": upload[2].get("requestId"),
            "at": iso(upload[1]) or "",
        },
        "lastReport": None
        if report is None
        else {
            "requestId": report[1].get("requestId"),
            "seqNo": report[1].get("seqNo"),
            "more": bool(report[1].get("tbc", False)),
            "items": len(report[1].get("reportData") or []),
            "at": iso(report[0]) or "",
        },
        "lastEvent": None
        if event is None
        else {"eventData": event[1].get("eventData") or [], "at": iso(event[0]) or ""},
        "securityEvents": [
            {
                "type": r["payload"]["type"],
                "timestamp": r["payload"]["timestamp"],
                "techInfo": r["payload"].get("techInfo"),
                "at": iso(r["received_at"]) or "",
            }
            for r in security
        ],
    }
