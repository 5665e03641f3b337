"""The registry of partners, API keys and chargers: PostgreSQL is the truth, and the
ownership and credentials csms and gateway need on every request are projected into each
charger's Redis hash so that no request needs a database round trip."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import redis.asyncio as redis

from shared import apikeys
from shared.ids import PARTNER_ID_RE, new_id, valid_charger_id
from shared.passwords import generate_password, hash_password
from shared.redis_keys import F, Keys


class RegistryError(Exception):
    """An admin operation that cannot be done; the message says why."""


class NotFound(RegistryError):
    pass


class Conflict(RegistryError):
    pass


@dataclass(frozen=True, slots=True)
class Partner:
    id: str
    name: str
    status: str
    charger_quota: int | None
    rate_limit_minute: int | None
    rate_limit_hour: int | None


@dataclass(frozen=True, slots=True)
class KeyRecord:
    key_id: str
    partner_id: str
    partner_status: str
    rate_limit_minute: int | None
    rate_limit_hour: int | None
    expires_at: datetime | None
    revoked: bool


async def audit(
    conn: Any, actor: str, action: str, target: str | None, details: Any = None
) -> None:
    await conn.execute(
        "INSERT INTO audit_log (actor, action, target, details) VALUES ($1, $2, $3, $4)",
        actor,
        action,
        target,
        details,
    )


def _partner(row: asyncpg.Record) -> Partner:
    return Partner(
        row["id"],
        row["name"],
        row["status"],
        row["charger_quota"],
        row["rate_limit_minute"],
        row["rate_limit_hour"],
    )


async def create_partner(
    pool: asyncpg.Pool,
    name: str,
    *,
    partner_id: str | None = None,
    charger_quota: int | None = None,
    actor: str = "admin",
) -> Partner:
    pid = partner_id or new_id("ptn")
    if not PARTNER_ID_RE.fullmatch(pid):
        raise RegistryError(f"invalid partner id {pid!r}")
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "INSERT INTO partners (id, name, charger_quota) VALUES ($1, $2, $3)"
            " ON CONFLICT (id) DO NOTHING RETURNING *",
            pid,
            name,
            charger_quota,
        )
        if row is None:
            raise Conflict(f"partner {pid} already exists")
        await audit(
            conn, actor, "partner.create", pid, {"name": name, "charger_quota": charger_quota}
        )
    return _partner(row)


async def get_partner(pool: asyncpg.Pool, partner_id: str) -> Partner:
    row = await pool.fetchrow(
        "SELECT * FROM partners WHERE id = $1 AND deleted_at IS NULL", partner_id
    )
    if row is None:
        raise NotFound(f"partner {partner_id} not found")
    return _partner(row)


async def issue_api_key(
    pool: asyncpg.Pool, partner_id: str, *, expires_at: datetime | None = None, actor: str = "admin"
) -> tuple[str, str]:
    """Create a key for the partner; returns (key id, key). The key is shown only here."""
    await get_partner(pool, partner_id)
    key = apikeys.generate()
    key_id = new_id("key")
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO api_keys (id, partner_id, prefix, key_hash, expires_at)"
            " VALUES ($1, $2, $3, $4, $5)",
            key_id,
            partner_id,
            apikeys.display_prefix(key),
            apikeys.digest(key),
            expires_at,
        )
        await audit(conn, actor, "api_key.issue", partner_id, {"key_id": key_id})
    return key_id, key


async def find_key(pool: asyncpg.Pool, digest: bytes) -> KeyRecord | None:
    row = await pool.fetchrow(
        "SELECT k.id, k.partner_id, k.expires_at, k.revoked_at IS NOT NULL AS revoked,"
        " p.status, p.rate_limit_minute, p.rate_limit_hour"
        " FROM api_keys k JOIN partners p ON p.id = k.partner_id"
        " WHERE k.key_hash = $1 AND p.deleted_at IS NULL",
        digest,
    )
    if row is None:
        return None
    return KeyRecord(
        row["id"],
        row["partner_id"],
        row["status"],
        row["rate_limit_minute"],
        row["rate_limit_hour"],
        row["expires_at"],
        row["revoked"],
    )


def _projection(row: asyncpg.Record | dict[str, Any]) -> dict[str, str]:
    return {
        F.REGISTERED: "1",
        F.OWNER: row["partner_id"] or "",
        F.PASSWORD: row["password_hash"] or "",
        F.REMOVED: "1" if row["removed_at"] is not None else "0",
    }


async def _project(r: redis.Redis, keys: Keys, row: asyncpg.Record) -> None:
    await r.hset(keys.charger(row["id"]), mapping=_projection(row))


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
    if generate and password is None:
        password = generate_password()
    pw_hash = hash_password(password) if password else None
    async with pool.acquire() as conn, conn.transaction():
        if partner_id is not None:
            await _check_quota(conn, partner_id)
        row = await conn.fetchrow(
            "INSERT INTO chargers (id, partner_id, password_hash, protocol) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (id) DO NOTHING RETURNING *",
            charger_id,
            partner_id,
            pw_hash,
            protocol,
        )
        if row is None:
            raise Conflict(f"charger {charger_id} already registered")
        await audit(conn, actor, "charger.register", charger_id, {"partner_id": partner_id})
        await _project(r, keys, row)
    return password if generate else None


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


async def assign_charger(
    pool: asyncpg.Pool,
    r: redis.Redis,
    keys: Keys,
    charger_id: str,
    partner_id: str | None,
    *,
    actor: str = "admin",
) -> None:
    """Assign the charger to a partner within its quota, or unassign it (partner_id None)."""
    async with pool.acquire() as conn, conn.transaction():
        if partner_id is not None:
            await _check_quota(conn, partner_id)
        row = await conn.fetchrow(
            "UPDATE chargers SET partner_id = $2 WHERE id = $1 RETURNING *", charger_id, partner_id
        )
        if row is None:
            raise NotFound(f"charger {charger_id} not found")
        await audit(conn, actor, "charger.assign", charger_id, {"partner_id": partner_id})
        await _project(r, keys, row)


async def sync_chargers(pool: asyncpg.Pool, r: redis.Redis, keys: Keys, batch: int = 5000) -> int:
    """Project every charger into Redis (after a Redis loss); returns how many."""
    count = 0
    async with pool.acquire() as conn, conn.transaction():
        cursor = conn.cursor("SELECT * FROM chargers")
        pipe = r.pipeline(transaction=False)
        async for row in cursor:
            pipe.hset(keys.charger(row["id"]), mapping=_projection(row))
            count += 1
            if count % batch == 0:
                await pipe.execute()
        await pipe.execute()
    await r.set(keys.chargers_synced, str(time.time()))
    return count


async def ensure_synced(pool: asyncpg.Pool, r: redis.Redis, keys: Keys) -> None:
    """Sync once per Redis lifetime: the marker vanishes with the data it vouches for."""
    if not await r.exists(keys.chargers_synced):
        await sync_chargers(pool, r, keys)
