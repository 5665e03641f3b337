"""Partners: created, listed, changed, suspended and deleted by admins, each change audited
and announced so gateways drop the limits and status they cached."""

from __future__ import annotations

import contextlib
from typing import Any

import asyncpg
import redis.asyncio as redis

from shared.ids import PARTNER_ID_RE, new_id
from shared.redis_keys import Keys
from shared.registry.audit_log import Change, audit, update_audited
from shared.registry.errors import Conflict, NotFound, RegistryError
from shared.registry.local_lists import mark_stale
from shared.registry.projection import announce, project_all
from shared.registry.records import Partner

PARTNER_STATUSES = ("active", "suspended")


def _partner(row: asyncpg.Record) -> Partner:
    return Partner(
        row["id"],
        row["name"],
        row["status"],
        row["charger_quota"],
        row["rate_limit_minute"],
        row["rate_limit_hour"],
        row["created_at"],
        row.get("chargers"),
    )


def _check_limits(values: dict[str, Any]) -> None:
    quota = values.get("charger_quota")
    if quota is not None and quota < 0:
        raise RegistryError("charger quota must be 0 or more")
    for limit in ("rate_limit_minute", "rate_limit_hour"):
        value = values.get(limit)
        if value is not None and value < 1:
            raise RegistryError(f"{limit.replace('_', ' ')} must be 1 or more")
    name = values.get("name")
    if name is not None and not 1 <= len(name.strip()) <= 200:
        raise RegistryError("partner name must be 1 to 200 characters")


async def create_partner(
    pool: asyncpg.Pool,
    name: str,
    *,
    partner_id: str | None = None,
    charger_quota: int | None = None,
    rate_limit_minute: int | None = None,
    rate_limit_hour: int | None = None,
    actor: str = "admin",
) -> Partner:
    pid = partner_id or new_id("ptn")
    if not PARTNER_ID_RE.fullmatch(pid):
        raise RegistryError(f"invalid partner id {pid!r}")
    limits = {
        "name": name,
        "charger_quota": charger_quota,
        "rate_limit_minute": rate_limit_minute,
        "rate_limit_hour": rate_limit_hour,
    }
    _check_limits(limits)
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "INSERT INTO partners (id, name, charger_quota, rate_limit_minute, rate_limit_hour)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING RETURNING *, 0 AS chargers",
            pid,
            name,
            charger_quota,
            rate_limit_minute,
            rate_limit_hour,
        )
        if row is None:
            raise Conflict(f"partner {pid} already exists")
        await audit(conn, actor, "partner.create", pid, limits)
    return _partner(row)


_PARTNER_SELECT = (
    "SELECT p.*, (SELECT count(*) FROM chargers c"
    " WHERE c.partner_id = p.id AND c.removed_at IS NULL) AS chargers FROM partners p"
)


async def get_partner(pool: asyncpg.Pool, partner_id: str) -> Partner:
    row = await pool.fetchrow(
        f"{_PARTNER_SELECT} WHERE p.id = $1 AND p.deleted_at IS NULL", partner_id
    )
    if row is None:
        raise NotFound(f"partner {partner_id} not found")
    return _partner(row)


async def list_partners(
    pool: asyncpg.Pool, *, status: str | None = None, after: str = "", limit: int = 100
) -> list[Partner]:
    """Partners in id order after `after` (keyset pagination); deleted ones are gone."""
    rows = await pool.fetch(
        f"{_PARTNER_SELECT} WHERE p.deleted_at IS NULL AND p.id > $1"
        " AND ($2::text IS NULL OR p.status = $2) ORDER BY p.id LIMIT $3",
        after,
        status,
        limit,
    )
    return [_partner(r) for r in rows]


_UPDATABLE = ("name", "charger_quota", "rate_limit_minute", "rate_limit_hour")


async def update_partner(
    pool: asyncpg.Pool,
    r: redis.Redis,
    keys: Keys,
    partner_id: str,
    changes: dict[str, Any],
    *,
    actor: str = "admin",
) -> Partner:
    """Change name, quota or rate limits (None clears a quota or limit back to the default)."""
    unknown = set(changes) - set(_UPDATABLE)
    if unknown:
        raise RegistryError(f"cannot change {', '.join(sorted(unknown))}")
    if "name" in changes and changes["name"] is None:
        raise RegistryError("a partner needs a name")
    _check_limits(changes)
    if changes:
        # column names come from _UPDATABLE only, never from the caller
        assignments = ", ".join(f"{col} = ${i}" for i, col in enumerate(changes, start=2))
        async with pool.acquire() as conn, conn.transaction():
            row = await update_audited(
                conn,
                Change(actor, "partner.update", partner_id, changes),
                f"UPDATE partners SET {assignments} WHERE id = $1 AND deleted_at IS NULL"
                " RETURNING id",
                partner_id,
                *changes.values(),
            )
            if row is None:
                raise NotFound(f"partner {partner_id} not found")
        await announce(r, keys, partner=partner_id)
    return await get_partner(pool, partner_id)


async def set_partner_status(
    pool: asyncpg.Pool,
    r: redis.Redis,
    keys: Keys,
    partner_id: str,
    status: str,
    *,
    actor: str = "admin",
) -> Partner:
    """Suspend (its keys get 403) or reactivate a partner; doing it twice changes nothing."""
    if status not in PARTNER_STATUSES:
        raise RegistryError(f"status must be one of {', '.join(PARTNER_STATUSES)}")
    async with pool.acquire() as conn, conn.transaction():
        before = await conn.fetchval(
            "SELECT status FROM partners WHERE id = $1 AND deleted_at IS NULL FOR UPDATE",
            partner_id,
        )
        if before is None:
            raise NotFound(f"partner {partner_id} not found")
        if before != status:
            await conn.execute("UPDATE partners SET status = $2 WHERE id = $1", partner_id, status)
            verb = "suspend" if status == "suspended" else "reactivate"
            await audit(conn, actor, f"partner.{verb}", partner_id, {"from": before})
    if before != status:
        await announce(r, keys, partner=partner_id)
    return await get_partner(pool, partner_id)


async def delete_partner(
    pool: asyncpg.Pool, r: redis.Redis, keys: Keys, partner_id: str, *, actor: str = "admin"
) -> dict[str, int]:
    """Delete a partner: its keys are revoked, its chargers unassigned and its drivers' tokens
    deleted (unknown to every csms node from then on), all in one go."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "UPDATE partners SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL"
            " RETURNING id",
            partner_id,
        )
        if row is None:
            raise NotFound(f"partner {partner_id} not found")
        # as PostgreSQL keeps them should this roll back
        owned = await conn.fetch("SELECT * FROM chargers WHERE partner_id = $1", partner_id)
        revoked = await conn.fetchval(
            "WITH k AS (UPDATE api_keys SET revoked_at = now() WHERE partner_id = $1"
            " AND revoked_at IS NULL RETURNING 1) SELECT count(*) FROM k",
            partner_id,
        )
        chargers = await conn.fetch(
            "UPDATE chargers SET partner_id = NULL, assigned_at = NULL WHERE partner_id = $1"
            " RETURNING *",
            partner_id,
        )
        tokens = await conn.fetch(
            "DELETE FROM tokens WHERE partner_id = $1 RETURNING *", partner_id
        )
        # the unassigned chargers' lists lose the partner's tokens
        await mark_stale(conn, chargers=[c["id"] for c in chargers])
        result = {"keysRevoked": int(revoked), "chargersUnassigned": len(chargers)}
        await audit(
            conn, actor, "partner.delete", partner_id, {**result, "tokensDeleted": len(tokens)}
        )
        try:
            await project_all(r, keys, chargers, removed_tokens=[t["id"] for t in tokens])
        except Exception:
            # The transaction rolls back: what Redis took of the deletion goes back too, or
            # the partner, still there, would find its chargers gone and its tokens refused.
            with contextlib.suppress(Exception):
                await project_all(r, keys, owned, tokens)
            raise
    await announce(r, keys, partner=partner_id)
    for charger in chargers:
        await announce(r, keys, charger=charger["id"])
    return result
