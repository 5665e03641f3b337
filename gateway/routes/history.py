"""History from PostgreSQL: a charger's meter values and sessions, a page at a time.

A partner sees only what happened since the charger was assigned to it: history from a
previous owner is not its to read.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from gateway import history
from gateway.api import Endpoint, Reply
from gateway.history_schemas import HistoryQuery, MeterPage, MeterQuery, SessionJson, SessionPage
from gateway.jsonio import json_response
from gateway.ownership import charger_id_of, not_found
from gateway.routes.params import CHARGER
from gateway.routes.paths import API
from gateway.schemas import ISO_EXAMPLE
from gateway.state import POOL, partner_id


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


async def _partners_window(
    request: web.Request, charger_id: str, query: HistoryQuery
) -> tuple[datetime, datetime]:
    """The window asked for, from no earlier than the charger became the partner's."""
    start, to = history.window(query, datetime.now(UTC))
    return max(start, await _owned_since(request, charger_id)), to


async def meter_values(request: web.Request) -> web.Response:
    charger_id = charger_id_of(request)
    query = METER_VALUES.query_of(request)
    start, to = await _partners_window(request, charger_id, query)
    page = await history.meter_page(
        request.app[POOL], charger_id, start, to, query.measurand, query.cursor, query.limit
    )
    return json_response(page)


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


async def sessions(request: web.Request) -> web.Response:
    charger_id = charger_id_of(request)
    query = SESSIONS.query_of(request)
    start, to = await _partners_window(request, charger_id, query)
    page = await history.charger_sessions(
        request.app[POOL], charger_id, start, to, query.cursor, query.limit
    )
    return json_response(page)


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
