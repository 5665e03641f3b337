"""History from PostgreSQL: a charger's meter values and sessions, a page at a time.

A partner sees only what happened since the charger was assigned to it: history from a
previous owner is not its to read.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web
from asyncpg import Record

from gateway import cursors
from gateway.api import Endpoint, Reply
from gateway.command_log import iso
from gateway.errors import ApiError
from gateway.history_schemas import HistoryQuery, MeterPage, MeterQuery, SessionJson, SessionPage
from gateway.jsonio import json_response
from gateway.ownership import charger_id_of, not_found
from gateway.routes.params import CHARGER
from gateway.routes.paths import API
from gateway.schemas import ISO_EXAMPLE
from gateway.state import POOL, partner_id

DEFAULT_WINDOW = timedelta(hours=24)


async def _owned_since(request: web.Request, charger_id: str) -> datetime:
    """When the charger became the partner's (404 unless it is the partner's)."""
    row = await request.app[POOL].fetchrow(
        "SELECT assigned_at, registered_at FROM chargers WHERE id = $1 AND partner_id = $2",
        charger_id,
        partner_id(request),
    )
    if row is None:
        raise not_found()
    since: datetime = row["assigned_at"] or row["registered_at"]
    return since


def window(query: HistoryQuery, now: datetime) -> tuple[datetime, datetime]:
    """[from, to): `to` defaults to now, `from` to a day before `to`."""
    to = query.to or now
    start = query.from_ or to - DEFAULT_WINDOW
    if start >= to:
        raise ApiError(400, "from: must be before to")
    return start, to


def _parse_time(value: object) -> datetime:
    if not isinstance(value, str):
        raise ApiError(400, "cursor: not a cursor this API returned")
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise ApiError(400, "cursor: not a cursor this API returned") from None
    if ts.tzinfo is None:
        raise ApiError(400, "cursor: not a cursor this API returned")
    return ts


async def meter_values(request: web.Request) -> web.Response:
    charger_id = charger_id_of(request)
    query = METER_VALUES.query_of(request)
    start, to = window(query, datetime.now(UTC))
    after: tuple[datetime, str, int] | None = None
    if query.cursor is not None:
        at, stream_id, seq = cursors.decode(query.cursor, 3)
        if not isinstance(stream_id, str) or not isinstance(seq, int):
            raise ApiError(400, "cursor: not a cursor this API returned")
        after = (_parse_time(at), stream_id, seq)
    start = max(start, await _owned_since(request, charger_id))
    rows = await request.app[POOL].fetch(
        "SELECT received_at, stream_id, seq, connector_id, transaction_id, ts, measurand, phase,"
        " value, unit FROM meter_values"
        " WHERE charger_id = $1 AND received_at >= $2 AND received_at < $3"
        " AND ($4::text IS NULL OR measurand = $4)"
        " AND ($5::timestamptz IS NULL OR (received_at, stream_id, seq) > ($5, $6::text, $7::int))"
        " ORDER BY received_at, stream_id, seq LIMIT $8",
        charger_id,
        start,
        to,
        query.measurand,
        after[0] if after else None,
        after[1] if after else None,
        after[2] if after else None,
        query.limit + 1,
    )
    page = rows[: query.limit]
    answer: MeterPage = {
        "meterValues": [
            {
                "receivedAt": iso(r["received_at"]) or "",
                "timestamp": iso(r["ts"]),
                "connectorId": r["connector_id"],
                "transactionId": r["transaction_id"],
                "measurand": r["measurand"],
                "phase": r["phase"],
                "value": r["value"],
                "unit": r["unit"],
            }
            for r in page
        ],
        "nextCursor": (
            cursors.encode(
                page[-1]["received_at"].isoformat(), page[-1]["stream_id"], page[-1]["seq"]
            )
            if len(rows) > query.limit
            else None
        ),
    }
    return json_response(answer)


METER_VALUES = Endpoint(
    "GET",
    f"{API}/chargers/{{chargerId}}/meter-values",
    meter_values,
    "getMeterValues",
    "A charger's meter values over a time window",
    "history",
    access="partner",
    description="From the history database, oldest first, `limit` at a time. Only values"
    " received since the charger was assigned to the partner.",
    query=MeterQuery,
    params=(CHARGER,),
    replies={
        200: Reply(
            "A page of meter values",
            MeterPage,
            {
                "meterValues": [
                    {
                        "receivedAt": ISO_EXAMPLE,
                        "timestamp": ISO_EXAMPLE,
                        "connectorId": 1,
                        "transactionId": "1042",
                        "measurand": "Energy.Active.Import.Register",
                        "phase": None,
                        "value": 1234500.0,
                        "unit": "Wh",
                    }
                ],
                "nextCursor": None,
            },
        )
    },
    errors={404: "The charger is unknown or not the partner's"},
)


SESSION_EXAMPLE: SessionJson = {
    "chargerId": "CP-0001",
    "transactionId": "1042",
    "connectorId": 1,
    "idTag": "PARTNER-TAG-1",
    "startedAt": ISO_EXAMPLE,
    "stoppedAt": None,
    "meterStartWh": 1200000.0,
    "meterStopWh": None,
    "energyWh": None,
    "stopReason": None,
    "active": True,
    "authStatus": "Accepted",
}


def session_json(r: Record) -> SessionJson:
    return {
        "chargerId": r["charger_id"],
        "transactionId": r["transaction_id"],
        "connectorId": r["connector_id"],
        "idTag": r["id_tag"],
        "startedAt": iso(r["started_at"]),
        "stoppedAt": iso(r["stopped_at"]),
        "meterStartWh": r["meter_start_wh"],
        "meterStopWh": r["meter_stop_wh"],
        "energyWh": r["energy_wh"],
        "stopReason": r["stop_reason"],
        "active": r["stopped_at"] is None,
        "authStatus": r["auth_status"],
    }


def session_page(rows: list[Record], limit: int) -> SessionPage:
    """A page of transactions rows (one more than `limit` fetched: there is a next page)."""
    page = rows[:limit]
    return {
        "sessions": [session_json(r) for r in page],
        "nextCursor": (
            cursors.encode(page[-1]["started_at"].isoformat(), page[-1]["transaction_id"])
            if len(rows) > limit
            else None
        ),
    }


def session_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    """Where the previous page of sessions ended (newest first)."""
    if cursor is None:
        return None
    at, tx = cursors.decode(cursor, 2)
    if not isinstance(tx, str):
        raise ApiError(400, "cursor: not a cursor this API returned")
    return _parse_time(at), tx


async def sessions(request: web.Request) -> web.Response:
    charger_id = charger_id_of(request)
    query = SESSIONS.query_of(request)
    start, to = window(query, datetime.now(UTC))
    before = session_cursor(query.cursor)
    start = max(start, await _owned_since(request, charger_id))
    rows = await request.app[POOL].fetch(
        "SELECT * FROM transactions"
        " WHERE charger_id = $1 AND started_at >= $2 AND started_at < $3"
        " AND ($4::timestamptz IS NULL OR (started_at, transaction_id) < ($4, $5::text))"
        " ORDER BY started_at DESC, transaction_id DESC LIMIT $6",
        charger_id,
        start,
        to,
        before[0] if before else None,
        before[1] if before else None,
        query.limit + 1,
    )
    return json_response(session_page(rows, query.limit))


SESSIONS = Endpoint(
    "GET",
    f"{API}/chargers/{{chargerId}}/sessions",
    sessions,
    "getSessions",
    "A charger's charging sessions (transactions)",
    "history",
    access="partner",
    description="Sessions that started in the window, newest first, with the energy"
    " delivered once stopped. Only sessions since the charger was assigned to the partner.",
    query=HistoryQuery,
    params=(CHARGER,),
    replies={
        200: Reply(
            "A page of sessions",
            SessionPage,
            {"sessions": [SESSION_EXAMPLE], "nextCursor": None},
        )
    },
    errors={404: "The charger is unknown or not the partner's"},
)
