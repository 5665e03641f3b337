"""The audit log: every registry change writes its entry in the transaction that makes the
change, and admins read the entries back together with the partners' commands."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

import asyncpg

from shared.registry.records import AuditEntry


async def audit(
    conn: Any, actor: str, action: str, target: str | None, details: Any = None
) -> None:
    """Write one entry on `conn`, inside the transaction of the change it records."""
    await conn.execute(
        "INSERT INTO audit_log (actor, action, target, details) VALUES ($1, $2, $3, $4)",
        actor,
        action,
        target,
        details,
    )


class Change(NamedTuple):
    """What an audit entry says: who did what to which target, and the details."""

    actor: str
    action: str
    target: str | None
    details: Any = None


async def update_audited(conn: Any, change: Change, sql: str, *args: Any) -> Any:
    """Run an `UPDATE … RETURNING` and, if it matched a row, audit `change` in the same
    transaction; returns the row, or None when nothing matched (and nothing was audited)."""
    row = await conn.fetchrow(sql, *args)
    if row is not None:
        await audit(conn, *change)
    return row


_AUDIT_SQL = """
SELECT at, ref, actor, action, target, details FROM (
    SELECT at, 'a' || lpad(id::text, 19, '0') AS ref, actor, action, target, details
    FROM audit_log
    UNION ALL
    SELECT created_at, id, coalesce('partner:' || partner_id, actor), 'command.' || action,
           charger_id,
           jsonb_build_object('commandId', id, 'mode', mode, 'request', request,
                              'outcome', outcome, 'message', message)
    FROM partner_commands
) e
WHERE ($1::text IS NULL OR actor = $1)
  AND ($2::text IS NULL OR left(action, length($2)) = $2)
  AND ($3::text IS NULL OR target = $3)
  AND ($4::timestamptz IS NULL OR at >= $4)
  AND ($5::timestamptz IS NULL OR at < $5)
  AND ($6::timestamptz IS NULL OR (at, ref) < ($6, $7::text))
ORDER BY at DESC, ref DESC
LIMIT $8
"""


async def audit_entries(
    pool: asyncpg.Pool,
    *,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before: tuple[datetime, str] | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """Admin actions and partner and operator commands, newest first."""
    rows = await pool.fetch(
        _AUDIT_SQL,
        actor,
        action,
        target,
        since,
        until,
        before[0] if before else None,
        before[1] if before else None,
        limit,
    )
    return [
        AuditEntry(r["at"], r["ref"], r["actor"], r["action"], r["target"], r["details"])
        for r in rows
    ]
