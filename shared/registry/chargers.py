"""Chargers: registered, assigned within a partner's quota and decommissioned by admins;
every change is projected into the charger's Redis hash before it commits."""

from __future__ import annotations

from typing import Any

import asyncpg
import redis.asyncio as redis

from shared.ids import valid_charger_id
from shared.passwords import generate_password, hash_password
from shared.redis_keys import Keys
from shared.registry.audit_log import Change, audit, update_audited
from shared.registry.errors import Conflict, NotFound, RegistryError
from shared.registry.local_lists import mark_stale
from shared.registry.projection import announce, project
from shared.registry.records import ChargerRecord

PROTOCOLS = ("ocpp1.6", "ocpp2.0.1")


def _charger(row: asyncpg.Record) -> ChargerRecord:
    return ChargerRecord(
        row["id"],
        row["partner_id"],
        row["protocol"],
        row["vendor"],
        row["model"],
        row["password_hash"] is not None,
        row["registered_at"],
        row["assigned_at"],
        row["removed_at"],
    )


async def register_charger(
    pool: asyncpg.Pool,
    r: redis.Redis,
    keys: Keys,
    charger_id: str,
    *,
    protocol: str | None = None,
    password: str | None = None,
    partner_id: str | None = None,
    generate: bool = False,
    actor: str = "admin",
) -> str | None:
    """Register a charger (optionally assigned); returns its password if one was generated."""
    if not valid_charger_id(charger_id):
        raise RegistryError(f"invalid charger id {charger_id!r}")
    if protocol is not None and protocol not in PROTOCOLS:
        raise RegistryError(f"protocol must be one of {', '.join(PROTOCOLS)}")
    password, pw_hash = _new_password(password, generate)
    async with pool.acquire() as conn, conn.transaction():
        if partner_id is not None:
            await _check_quota(conn, partner_id)
        row = await conn.fetchrow(
            "INSERT INTO chargers (id, partner_id, password_hash, protocol, assigned_at)"
            " VALUES ($1, $2, $3, $4, CASE WHEN $2::text IS NULL THEN NULL ELSE now() END)"
            " ON CONFLICT (id) DO NOTHING RETURNING *",
            charger_id,
            partner_id,
            pw_hash,
            protocol,
        )
        if row is None:
            raise Conflict(f"charger {charger_id} already registered")
        await audit(
            conn,
            actor,
            "charger.register",
            charger_id,
            {"partner_id": partner_id, "protocol": protocol, "password": pw_hash is not None},
        )
        await project(r, keys, row)
    await announce(r, keys, charger=charger_id)
    return password if generate else None


def _new_password(password: str | None, generate: bool) -> tuple[str | None, str | None]:
    """The password to set (generated if asked) and its hash; (None, None) for none."""
    if password is not None and not 16 <= len(password) <= 40:
        # OCPP security profiles 1-2: the charge point password is 16 to 40 characters
        raise RegistryError("a charge point password must be 16 to 40 characters")
    if generate and password is None:
        password = generate_password()
    return password, hash_password(password) if password else None


async def set_charger_password(
    pool: asyncpg.Pool,
    r: redis.Redis,
    keys: Keys,
    charger_id: str,
    *,
    password: str | None = None,
    generate: bool = False,
    actor: str = "admin",
) -> tuple[ChargerRecord, str | None]:
    """Replace (or remove) a charger's password; returns the charger and the password if one
    was generated. The charger's next connection must use it; an open one is left alone."""
    password, pw_hash = _new_password(password, generate)
    async with pool.acquire() as conn, conn.transaction():
        row = await update_audited(
            conn,
            Change(actor, "charger.password", charger_id, {"password": pw_hash is not None}),
            "UPDATE chargers SET password_hash = $2 WHERE id = $1 AND removed_at IS NULL"
            " RETURNING *",
            charger_id,
            pw_hash,
        )
        if row is None:
            await get_charger(pool, charger_id)  # NotFound if there is no such charger
            raise Conflict(f"charger {charger_id} is decommissioned")
        await project(r, keys, row)
    return _charger(row), password if generate else None


async def _check_quota(conn: Any, partner_id: str) -> None:
    partner = await conn.fetchrow(
        "SELECT charger_quota FROM partners WHERE id = $1 AND deleted_at IS NULL FOR UPDATE",
        partner_id,
    )
    if partner is None:
        raise NotFound(f"partner {partner_id} not found")
    quota = partner["charger_quota"]
    if quota is not None:
        used = await conn.fetchval(
            "SELECT count(*) FROM chargers WHERE partner_id = $1 AND removed_at IS NULL", partner_id
        )
        if used >= quota:
            raise Conflict(f"partner {partner_id} has reached its quota of {quota} chargers")


async def get_charger(pool: asyncpg.Pool, charger_id: str) -> ChargerRecord:
    row = await pool.fetchrow("SELECT * FROM chargers WHERE id = $1", charger_id)
    if row is None:
        raise NotFound(f"charger {charger_id} not found")
    return _charger(row)


async def list_chargers(
    pool: asyncpg.Pool,
    *,
    partner_id: str | None = None,
    include_removed: bool = False,
    search: str | None = None,
    after: str = "",
    limit: int = 100,
) -> list[ChargerRecord]:
    """Chargers in id order after `after`; `search`: only ids containing it, in any case."""
    rows = await pool.fetch(
        "SELECT * FROM chargers WHERE id > $1 AND ($2::text IS NULL OR partner_id = $2)"
        " AND ($3 OR removed_at IS NULL)"
        " AND ($5::text IS NULL OR strpos(lower(id), lower($5)) > 0) ORDER BY id LIMIT $4",
        after,
        partner_id,
        include_removed,
        limit,
        search,
    )
    return [_charger(r) for r in rows]


async def assign_charger(
    pool: asyncpg.Pool,
    r: redis.Redis,
    keys: Keys,
    charger_id: str,
    partner_id: str | None,
    *,
    actor: str = "admin",
) -> ChargerRecord:
    """Assign the charger to a partner within its quota, or unassign it (partner_id None)."""
    async with pool.acquire() as conn, conn.transaction():
        current = await conn.fetchrow("SELECT * FROM chargers WHERE id = $1 FOR UPDATE", charger_id)
        if current is None:
            raise NotFound(f"charger {charger_id} not found")
        if current["removed_at"] is not None:
            raise Conflict(f"charger {charger_id} is decommissioned")
        if current["partner_id"] == partner_id:
            # nothing to change, but Redis is told again: the way to mend a projection that
            # an earlier failure left behind
            await project(r, keys, current)
            return _charger(current)
        if partner_id is not None:
            await _check_quota(conn, partner_id)
        change = Change(
            actor,
            "charger.assign" if partner_id is not None else "charger.unassign",
            charger_id,
            {"partner_id": partner_id, "previous_partner_id": current["partner_id"]},
        )
        row = await update_audited(
            conn,
            change,
            "UPDATE chargers SET partner_id = $2,"
            " assigned_at = CASE WHEN $2::text IS NULL THEN NULL ELSE now() END"
            " WHERE id = $1 RETURNING *",
            charger_id,
            partner_id,
        )
        await mark_stale(conn, chargers=[charger_id])  # another partner's tokens, or none
        await project(r, keys, row)
    await announce(r, keys, charger=charger_id)
    return _charger(row)


async def decommission_charger(
    pool: asyncpg.Pool, r: redis.Redis, keys: Keys, charger_id: str, *, actor: str = "admin"
) -> ChargerRecord:
    """Take a charger out of service for good: REMOVED to its partner, refused by csms."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "UPDATE chargers SET removed_at = now() WHERE id = $1 AND removed_at IS NULL"
            " RETURNING *",
            charger_id,
        )
        if row is None:
            await get_charger(pool, charger_id)  # NotFound if there is no such charger
            raise Conflict(f"charger {charger_id} is already decommissioned")
        await audit(
            conn, actor, "charger.decommission", charger_id, {"partner_id": row["partner_id"]}
        )
        await project(r, keys, row)
    await announce(r, keys, charger=charger_id)
    return _charger(row)
