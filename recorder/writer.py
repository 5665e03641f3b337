"""Writing a batch to PostgreSQL in one transaction; idempotent: a re-delivered batch lands once.

History rows go in by COPY straight into their tables. A batch delivered again (a recorder
that committed, then died before acknowledging) fails that COPY on the unique key and is
written again through a scratch table that skips the rows already there: twice the work, but
only for the rare re-delivered batch."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg

from recorder.rows import Batch, copy_data

Copy = Callable[[asyncpg.Connection, str, list[str], list[bytes]], Awaitable[None]]

_STATUS_COLS = [
    "stream_id",
    "received_at",
    "charger_id",
    "connector_id",
    "ocpp_status",
    "status",
    "error_code",
    "ts",
]
_METER_COLS = [
    "stream_id",
    "seq",
    "received_at",
    "charger_id",
    "connector_id",
    "transaction_id",
    "ts",
    "measurand",
    "phase",
    "value",
    "unit",
]


async def _copy(conn: asyncpg.Connection, table: str, cols: list[str], rows: list[bytes]) -> None:
    # the rows come encoded (recorder.rows): asyncpg passes them on as they are
    await conn.copy_to_table(table, source=copy_data(rows), columns=cols, format="binary")


async def _copy_idempotent(
    conn: asyncpg.Connection, table: str, cols: list[str], rows: list[bytes]
) -> None:
    # COPY cannot skip duplicates, so COPY into a scratch table and insert from it.
    tmp = f"_in_{table}"
    await conn.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {tmp} (LIKE {table}) ON COMMIT DELETE ROWS"
    )
    await conn.copy_to_table(tmp, source=copy_data(rows), columns=cols, format="binary")
    col_list = ", ".join(cols)
    await conn.execute(
        f"INSERT INTO {table} ({col_list}) SELECT {col_list} FROM {tmp} ON CONFLICT DO NOTHING"
    )


async def write(pool: asyncpg.Pool, batch: Batch) -> None:
    async with pool.acquire() as conn:
        try:
            async with conn.transaction():
                await _write(conn, batch, _copy)
        except asyncpg.UniqueViolationError:
            async with conn.transaction():
                await _write(conn, batch, _copy_idempotent)


async def _write(conn: asyncpg.Connection, batch: Batch, copy: Copy) -> None:
    if batch.status_events:
        await copy(conn, "status_events", _STATUS_COLS, batch.status_events)
    if batch.meter_values:
        await copy(conn, "meter_values", _METER_COLS, batch.meter_values)
    if batch.tx_starts:
        await conn.executemany(
            "INSERT INTO transactions (charger_id, transaction_id, connector_id, id_tag,"
            " started_at, meter_start_wh, auth_status, token_partner_id)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            " ON CONFLICT (charger_id, transaction_id) DO UPDATE SET"
            " connector_id = COALESCE(transactions.connector_id, EXCLUDED.connector_id),"
            " id_tag = COALESCE(transactions.id_tag, EXCLUDED.id_tag),"
            # the earliest start sets them, whichever is written first: a 2.0.1 transaction
            # reports its start again when a token or a first reading comes, and a re-claimed
            # batch may be written after the entries that followed it
            " started_at = CASE WHEN EXCLUDED.started_at < transactions.started_at"
            " THEN EXCLUDED.started_at"
            " ELSE COALESCE(transactions.started_at, EXCLUDED.started_at) END,"
            " meter_start_wh = CASE WHEN EXCLUDED.started_at < transactions.started_at"
            " THEN COALESCE(EXCLUDED.meter_start_wh, transactions.meter_start_wh)"
            " ELSE COALESCE(transactions.meter_start_wh, EXCLUDED.meter_start_wh) END,"
            " auth_status = COALESCE(transactions.auth_status, EXCLUDED.auth_status),"
            " token_partner_id = COALESCE(transactions.token_partner_id,"
            " EXCLUDED.token_partner_id)",
            batch.tx_starts,
        )
    if batch.tx_stops:
        # A stop may be recorded before its start (a re-claimed batch): upsert either way.
        await conn.executemany(
            "INSERT INTO transactions (charger_id, transaction_id, connector_id, stopped_at,"
            " meter_stop_wh, stop_reason) VALUES ($1, $2, $3, $4, $5, $6)"
            " ON CONFLICT (charger_id, transaction_id) DO UPDATE SET"
            " connector_id = COALESCE(transactions.connector_id, EXCLUDED.connector_id),"
            " stopped_at = EXCLUDED.stopped_at, meter_stop_wh = EXCLUDED.meter_stop_wh,"
            " stop_reason = EXCLUDED.stop_reason",
            batch.tx_stops,
        )
    if batch.reports:
        await conn.executemany(
            "INSERT INTO charger_reports (stream_id, received_at, charger_id, action, payload)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (stream_id) DO NOTHING",
            batch.reports,
        )
    if batch.commands:
        await conn.executemany(
            "INSERT INTO commands (id, partner_id, charger_id, action, ocpp_action, request,"
            " outcome, response, completed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            # a gateway's TIMEOUT (no reply in time) yields to the node's outcome, written
            # later when the node was slow; any other outcome, and every replay, stands
            " ON CONFLICT (id) DO UPDATE SET ocpp_action = EXCLUDED.ocpp_action,"
            " outcome = EXCLUDED.outcome, response = EXCLUDED.response,"
            " completed_at = EXCLUDED.completed_at"
            " WHERE commands.outcome = 'TIMEOUT' AND EXCLUDED.outcome <> 'TIMEOUT'",
            batch.commands,
        )
