"""History queries over PostgreSQL, a page at a time: a charger's meter values (raw, or
averaged per time bucket for a chart), its sessions and its status changes. The partner routes
bound the window by when the charger became the partner's; the admin routes do not."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg
from asyncpg import Record

from gateway import cursors
from gateway.command_log import iso
from gateway.errors import ApiError
from gateway.history_schemas import (
    HistoryQuery,
    MeterPage,
    MeterValueJson,
    SessionJson,
    SessionPage,
    StatusChangeJson,
    StatusChangePage,
)

DEFAULT_WINDOW = timedelta(hours=24)


def window(query: HistoryQuery, now: datetime) -> tuple[datetime, datetime]:
    """[from, to): `to` defaults to now, `from` to a day before `to`."""
    to = query.to or now
    start = query.from_ or to - DEFAULT_WINDOW
    if start >= to:
        raise ApiError(400, "from: must be before to")
    return start, to


# meter values -----------------------------------------------------------------------------


def _meter_json(r: Record) -> MeterValueJson:
    return {
        "receivedAt": iso(r["received_at"]) or "",
        "timestamp": iso(r["ts"]),
        "connectorId": r["connector_id"],
        "transactionId": r["transaction_id"],
        "measurand": r["measurand"],
        "phase": r["phase"],
        "value": r["value"],
        "unit": r["unit"],
    }


async def meter_page(
    pool: asyncpg.Pool,
    charger_id: str,
    start: datetime,
    to: datetime,
    measurand: str | None,
    cursor: str | None,
    limit: int,
) -> MeterPage:
    """The meter values received in [start, to), oldest first."""
    after: tuple[datetime, str, int] | None = None
    if cursor is not None:
        at, stream_id, seq = cursors.decode(cursor, 3)
        if not isinstance(stream_id, str) or not isinstance(seq, int):
            raise cursors.bad()
        after = (cursors.time_of(at), stream_id, seq)
    rows = await pool.fetch(
        "SELECT received_at, stream_id, seq, connector_id, transaction_id, ts, measurand, phase,"
        " value, unit FROM meter_values"
        " WHERE charger_id = $1 AND received_at >= $2 AND received_at < $3"
        " AND ($4::text IS NULL OR measurand = $4)"
        " AND ($5::timestamptz IS NULL OR (received_at, stream_id, seq) > ($5, $6::text, $7::int))"
        " ORDER BY received_at, stream_id, seq LIMIT $8",
        charger_id,
        start,
        to,
        measurand,
        after[0] if after else None,
        after[1] if after else None,
        after[2] if after else None,
        limit + 1,
    )
    page = rows[:limit]
    return {
        "meterValues": [_meter_json(r) for r in page],
        "nextCursor": (
            cursors.encode(
                page[-1]["received_at"].isoformat(), page[-1]["stream_id"], page[-1]["seq"]
            )
            if len(rows) > limit
            else None
        ),
    }


# One row per bucket, connector, measurand and phase: what a chart of hours can draw, where
# the raw values of a charger sampling every second would be tens of thousands.
_SERIES_SQL = """
SELECT * FROM (
    SELECT to_timestamp(floor(extract(epoch FROM received_at) / $5) * $5) AS received_at,
           connector_id, measurand, coalesce(phase, '') AS phase, avg(value) AS value,
           max(unit) AS unit
    FROM meter_values
    WHERE charger_id = $1 AND received_at >= $2 AND received_at < $3
      AND ($4::text IS NULL OR measurand = $4)
    GROUP BY 1, 2, 3, 4
) b
WHERE ($6::timestamptz IS NULL
       OR (received_at, connector_id, measurand, phase) > ($6, $7::int, $8::text, $9::text))
ORDER BY received_at, connector_id, measurand, phase
LIMIT $10
"""


async def meter_series(
    pool: asyncpg.Pool,
    charger_id: str,
    start: datetime,
    to: datetime,
    measurand: str | None,
    bucket_seconds: int,
    cursor: str | None,
    limit: int,
) -> MeterPage:
    """The meter values of [start, to) averaged per bucket of `bucket_seconds`, oldest first:
    each stamped with its bucket's start, without the charger's time or a transaction."""
    after: tuple[datetime, int, str, str] | None = None
    if cursor is not None:
        at, connector, name, phase = cursors.decode(cursor, 4)
        if not (isinstance(connector, int) and isinstance(name, str) and isinstance(phase, str)):
            raise cursors.bad()
        after = (cursors.time_of(at), connector, name, phase)
    rows = await pool.fetch(
        _SERIES_SQL,
        charger_id,
        start,
        to,
        measurand,
        bucket_seconds,
        *(after or (None, None, None, None)),
        limit + 1,
    )
    page = rows[:limit]
    last = page[-1] if page else None
    return {
        "meterValues": [
            {
                "receivedAt": iso(r["received_at"]) or "",
                "timestamp": None,
                "connectorId": r["connector_id"],
                "transactionId": None,
                "measurand": r["measurand"],
                "phase": r["phase"] or None,
                "value": r["value"],
                "unit": r["unit"],
            }
            for r in page
        ],
        "nextCursor": (
            cursors.encode(
                last["received_at"].isoformat(),
                last["connector_id"],
                last["measurand"],
                last["phase"],
            )
            if last is not None and len(rows) > limit
            else None
        ),
    }


# sessions ---------------------------------------------------------------------------------


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


# Sessions newest first. A transaction id is only its charger's: two chargers' sessions can
# share a start and an id, so the charger is part of the order a page continues from.
SESSIONS_ORDER = "started_at DESC, transaction_id DESC, charger_id DESC"
SESSIONS_BEFORE = (
    "({at}::timestamptz IS NULL"
    " OR (started_at, transaction_id, charger_id) < ({at}, {tx}::text, {cp}::text))"
)


def session_page(rows: list[Record], limit: int) -> SessionPage:
    """A page of transactions rows (one more than `limit` fetched: there is a next page)."""
    page = rows[:limit]
    return {
        "sessions": [session_json(r) for r in page],
        "nextCursor": (
            cursors.encode(
                page[-1]["started_at"].isoformat(),
                page[-1]["transaction_id"],
                page[-1]["charger_id"],
            )
            if len(rows) > limit
            else None
        ),
    }


async def charger_sessions(
    pool: asyncpg.Pool,
    charger_id: str,
    start: datetime,
    to: datetime,
    cursor: str | None,
    limit: int,
) -> SessionPage:
    """The sessions that started in [start, to), newest first."""
    before = cursors.session_key(cursor)
    rows = await pool.fetch(
        "SELECT * FROM transactions"
        " WHERE charger_id = $1 AND started_at >= $2 AND started_at < $3"
        f" AND {SESSIONS_BEFORE.format(at='$4', tx='$5', cp='$6')}"
        f" ORDER BY {SESSIONS_ORDER} LIMIT $7",
        charger_id,
        start,
        to,
        *(before or (None, None, None)),
        limit + 1,
    )
    return session_page(rows, limit)


# status changes ---------------------------------------------------------------------------


async def status_changes(
    pool: asyncpg.Pool,
    charger_id: str,
    start: datetime,
    to: datetime,
    cursor: str | None,
    limit: int,
) -> StatusChangePage:
    """The connectors' status notifications received in [start, to), newest first."""
    before = cursors.time_and_id(cursor)
    rows = await pool.fetch(
        "SELECT received_at, stream_id, connector_id, ocpp_status, status, error_code, ts"
        " FROM status_events"
        " WHERE charger_id = $1 AND received_at >= $2 AND received_at < $3"
        " AND ($4::timestamptz IS NULL OR (received_at, stream_id) < ($4, $5::text))"
        " ORDER BY received_at DESC, stream_id DESC LIMIT $6",
        charger_id,
        start,
        to,
        before[0] if before else None,
        before[1] if before else None,
        limit + 1,
    )
    page = rows[:limit]
    changes: list[StatusChangeJson] = [
        {
            "receivedAt": iso(r["received_at"]) or "",
            "timestamp": iso(r["ts"]),
            "connectorId": r["connector_id"],
            "status": r["status"],
            "ocppStatus": r["ocpp_status"],
            "errorCode": r["error_code"],
        }
        for r in page
    ]
    return {
        "statusEvents": changes,
        "nextCursor": (
            cursors.encode(page[-1]["received_at"].isoformat(), page[-1]["stream_id"])
            if len(rows) > limit
            else None
        ),
    }
