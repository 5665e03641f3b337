"""API keys: issued, listed, rotated with an overlap and revoked by admins; found by their
digest when a partner presents one."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg
import redis.asyncio as redis

from shared import apikeys
from shared.ids import new_id
from shared.redis_keys import Keys
from shared.registry.audit_log import Change, audit, update_audited
from shared.registry.errors import Conflict, NotFound, RegistryError
from shared.registry.partners import get_partner
from shared.registry.projection import announce
from shared.registry.records import KeyInfo, KeyRecord


def _key_info(row: asyncpg.Record) -> KeyInfo:
    return KeyInfo(
        row["id"],
        row["partner_id"],
        row["prefix"],
        row["name"],
        row["created_at"],
        row["expires_at"],
        row["revoked_at"],
        row["replaced_by"],
    )


async def _insert_key(
    conn: Any, partner_id: str, expires_at: datetime | None, name: str | None
) -> tuple[str, str]:
    key = apikeys.generate()
    key_id = new_id("key")
    await conn.execute(
        "INSERT INTO api_keys (id, partner_id, prefix, key_hash, expires_at, name)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        key_id,
        partner_id,
        apikeys.display_prefix(key),
        apikeys.digest(key),
        expires_at,
        name,
    )
    return key_id, key


async def issue_api_key(
    pool: asyncpg.Pool,
    partner_id: str,
    *,
    expires_at: datetime | None = None,
    name: str | None = None,
    actor: str = "admin",
) -> tuple[str, str]:
    """Create a key for the partner; returns (key id, key). The key is shown only here."""
    await get_partner(pool, partner_id)
    async with pool.acquire() as conn, conn.transaction():
        key_id, key = await _insert_key(conn, partner_id, expires_at, name)
        await audit(
            conn,
            actor,
            "api_key.issue",
            partner_id,
            {"key_id": key_id, "prefix": apikeys.display_prefix(key), "name": name},
        )
    return key_id, key


async def get_key(pool: asyncpg.Pool, key_id: str) -> KeyInfo:
    row = await pool.fetchrow(
        "SELECT k.* FROM api_keys k JOIN partners p ON p.id = k.partner_id"
        " WHERE k.id = $1 AND p.deleted_at IS NULL",
        key_id,
    )
    if row is None:
        raise NotFound(f"API key {key_id} not found")
    return _key_info(row)


async def list_keys(
    pool: asyncpg.Pool, *, partner_id: str | None = None, prefix: str | None = None
) -> list[KeyInfo]:
    """A partner's keys, or the keys whose display prefix starts with `prefix`; newest first."""
    if partner_id is None and not prefix:
        raise RegistryError("name a partner or a key prefix")
    if partner_id is not None:
        await get_partner(pool, partner_id)
    if prefix and apikeys.well_formed(prefix):
        # a whole (leaked) key: exactly its record, by its hash
        row = await pool.fetchrow(
            "SELECT k.* FROM api_keys k JOIN partners p ON p.id = k.partner_id"
            " WHERE k.key_hash = $1 AND p.deleted_at IS NULL",
            apikeys.digest(prefix),
        )
        return [_key_info(row)] if row is not None else []
    rows = await pool.fetch(
        "SELECT k.* FROM api_keys k JOIN partners p ON p.id = k.partner_id"
        " WHERE p.deleted_at IS NULL AND ($1::text IS NULL OR k.partner_id = $1)"
        " AND ($2::text IS NULL OR k.prefix LIKE $3 || '%')"
        " ORDER BY k.created_at DESC, k.id LIMIT 1000",
        partner_id,
        prefix,
        # only the display prefix is stored: a longer string is matched by its start
        _like_escape((prefix or "")[: apikeys.DISPLAY_PREFIX_LEN]),
    )
    return [_key_info(r) for r in rows]


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def rotate_key(
    pool: asyncpg.Pool,
    r: redis.Redis,
    keys: Keys,
    key_id: str,
    *,
    overlap: timedelta,
    expires_at: datetime | None = None,
    actor: str = "admin",
) -> tuple[str, str, KeyInfo]:
    """Issue a successor; the old key keeps working for `overlap` (or until its own expiry)."""
    if overlap < timedelta(0):
        raise RegistryError("overlap must not be negative")
    async with pool.acquire() as conn, conn.transaction():
        old = await conn.fetchrow(
            "SELECT k.* FROM api_keys k JOIN partners p ON p.id = k.partner_id"
            " WHERE k.id = $1 AND p.deleted_at IS NULL FOR UPDATE OF k",
            key_id,
        )
        if old is None:
            raise NotFound(f"API key {key_id} not found")
        if old["revoked_at"] is not None:
            raise Conflict(f"API key {key_id} is revoked; issue a new key instead")
        if old["replaced_by"] is not None:
            raise Conflict(f"API key {key_id} was already rotated to {old['replaced_by']}")
        new_key_id, key = await _insert_key(conn, old["partner_id"], expires_at, old["name"])
        change = Change(
            actor,
            "api_key.rotate",
            old["partner_id"],
            {
                "key_id": key_id,
                "new_key_id": new_key_id,
                "prefix": apikeys.display_prefix(key),
                "overlap_seconds": overlap.total_seconds(),
            },
        )
        updated = await update_audited(
            conn,
            change,
            "UPDATE api_keys SET replaced_by = $2,"
            " expires_at = LEAST(COALESCE(expires_at, 'infinity'), now() + $3::interval)"
            " WHERE id = $1 RETURNING *",
            key_id,
            new_key_id,
            overlap,
        )
    await announce(r, keys, partner=old["partner_id"])
    return new_key_id, key, _key_info(updated)


async def revoke_key(
    pool: asyncpg.Pool, r: redis.Redis, keys: Keys, key_id: str, *, actor: str = "admin"
) -> KeyInfo:
    """Revoke a key at once on every gateway; revoking it again changes nothing."""
    info = await get_key(pool, key_id)
    if info.revoked_at is None:
        async with pool.acquire() as conn, conn.transaction():
            # a key's partner never changes: the one read above is the one revoked here
            row = await update_audited(
                conn,
                Change(actor, "api_key.revoke", info.partner_id, {"key_id": key_id}),
                "UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL"
                " RETURNING *",
                key_id,
            )
            if row is not None:
                info = _key_info(row)
        await announce(r, keys, partner=info.partner_id)
    return info


async def find_key(pool: asyncpg.Pool, digest: bytes) -> KeyRecord | None:
    row = await pool.fetchrow(
        "SELECT k.id, k.partner_id, k.expires_at, k.revoked_at IS NOT NULL AS revoked,"
        " k.replaced_by IS NOT NULL AS replaced, p.status, p.rate_limit_minute, p.rate_limit_hour"
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
        row["replaced"],
    )
