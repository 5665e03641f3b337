"""The registry of partners, API keys and chargers: PostgreSQL is the truth, and the
ownership and credentials csms and gateway need on every request are projected into each
charger's Redis hash so that no request needs a database round trip.

Every change is written to the audit log in the same transaction, and changes that gateways
cache (keys, partner status and limits, charger ownership) are announced on a Redis channel
so every gateway drops its cached copy at once instead of at the end of its cache TTL.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import orjson
import redis.asyncio as redis

from shared import apikeys
from shared.ids import PARTNER_ID_RE, new_id, valid_charger_id
from shared.passwords import generate_password, hash_password
from shared.redis_client import UNAVAILABLE
from shared.redis_keys import F, Keys

log = logging.getLogger(__name__)

PROTOCOLS = ("ocpp1.6", "ocpp2.0.1")
PARTNER_STATUSES = ("active", "suspended")


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
    created_at: datetime | None = None
    chargers: int | None = None  # chargers assigned now (not decommissioned), where counted


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """What authentication needs to know about a presented key."""

    key_id: str
    partner_id: str
    partner_status: str
    rate_limit_minute: int | None
    rate_limit_hour: int | None
    expires_at: datetime | None
    revoked: bool
    replaced: bool = False  # rotated: it expires (or expired) in favour of its successor


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """An API key as admins see it: never the key, only its prefix."""

    id: str
    partner_id: str
    prefix: str
    name: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    replaced_by: str | None

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "rotating" if self.replaced_by is not None else "active"


@dataclass(frozen=True, slots=True)
class ChargerRecord:
    id: str
    partner_id: str | None
    protocol: str | None
    vendor: str | None
    model: str | None
    has_password: bool
    registered_at: datetime
    assigned_at: datetime | None
    removed_at: datetime | None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    ref: str  # unique with `at`: the pagination key
    actor: str
    action: str
    target: str | None
    details: Any


# change notifications -----------------------------------------------------------------------


def change_message(*, partner: str | None = None, charger: str | None = None) -> bytes:
    return orjson.dumps({"partner": partner, "charger": charger})


async def announce(
    r: redis.Redis, keys: Keys, *, partner: str | None = None, charger: str | None = None
) -> None:
    """Tell every gateway to drop what it cached about the partner or charger."""
    try:
        await r.post(keys.registry_changes, change_message(partner=partner, charger=charger))
    except UNAVAILABLE:
        # Committed anyway: caches still expire within their TTL.
        log.warning("could not announce a registry change", extra={"partner_id": partner})


# audit --------------------------------------------------------------------------------------


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


_AUDIT_SQL = """
SELECT at, ref, actor, action, target, details FROM (
    SELECT at, 'a' || lpad(id::text, 19, '0') AS ref, actor, action, target, details
    FROM audit_log
    UNION ALL
    SELECT created_at, id, 'partner:' || partner_id, 'command.' || action, charger_id,
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
    """Admin actions and partner commands, newest first."""
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


# partners -----------------------------------------------------------------------------------


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
            row = await conn.fetchrow(
                f"UPDATE partners SET {assignments} WHERE id = $1 AND deleted_at IS NULL"
                " RETURNING id",
                partner_id,
                *changes.values(),
            )
            if row is None:
                raise NotFound(f"partner {partner_id} not found")
            await audit(conn, actor, "partner.update", partner_id, changes)
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
    """Delete a partner: its keys are revoked and its chargers unassigned, all in one go."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "UPDATE partners SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL"
            " RETURNING id",
            partner_id,
        )
        if row is None:
            raise NotFound(f"partner {partner_id} not found")
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
        result = {"keysRevoked": int(revoked), "chargersUnassigned": len(chargers)}
        await audit(conn, actor, "partner.delete", partner_id, result)
        pipe = r.pipeline(transaction=False)
        for charger in chargers:
            pipe.hset(keys.charger(charger["id"]), mapping=_projection(charger))
        await pipe.execute()
    await announce(r, keys, partner=partner_id)
    for charger in chargers:
        await announce(r, keys, charger=charger["id"])
    return result


# API keys -----------------------------------------------------------------------------------


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
        updated = await conn.fetchrow(
            "UPDATE api_keys SET replaced_by = $2,"
            " expires_at = LEAST(COALESCE(expires_at, 'infinity'), now() + $3::interval)"
            " WHERE id = $1 RETURNING *",
            key_id,
            new_key_id,
            overlap,
        )
        await audit(
            conn,
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
    await announce(r, keys, partner=old["partner_id"])
    return new_key_id, key, _key_info(updated)


async def revoke_key(
    pool: asyncpg.Pool, r: redis.Redis, keys: Keys, key_id: str, *, actor: str = "admin"
) -> KeyInfo:
    """Revoke a key at once on every gateway; revoking it again changes nothing."""
    info = await get_key(pool, key_id)
    if info.revoked_at is None:
        async with pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL"
                " RETURNING *",
                key_id,
            )
            if row is not None:
                info = _key_info(row)
                await audit(conn, actor, "api_key.revoke", info.partner_id, {"key_id": key_id})
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


# chargers -----------------------------------------------------------------------------------


def _projection(row: asyncpg.Record | dict[str, Any]) -> dict[str, str]:
    return {
        F.REGISTERED: "1",
        F.OWNER: row["partner_id"] or "",
        F.PASSWORD: row["password_hash"] or "",
        F.REMOVED: "1" if row["removed_at"] is not None else "0",
    }


async def _project(r: redis.Redis, keys: Keys, row: asyncpg.Record) -> None:
    await r.hset(keys.charger(row["id"]), mapping=_projection(row))


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
    if password is not None and not 16 <= len(password) <= 40:
        # OCPP security profiles 1-2: the charge point password is 16 to 40 characters
        raise RegistryError("a charge point password must be 16 to 40 characters")
    if generate and password is None:
        password = generate_password()
    pw_hash = hash_password(password) if password else None
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
        await _project(r, keys, row)
    await announce(r, keys, charger=charger_id)
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
    after: str = "",
    limit: int = 100,
) -> list[ChargerRecord]:
    rows = await pool.fetch(
        "SELECT * FROM chargers WHERE id > $1 AND ($2::text IS NULL OR partner_id = $2)"
        " AND ($3 OR removed_at IS NULL) ORDER BY id LIMIT $4",
        after,
        partner_id,
        include_removed,
        limit,
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
        current = await conn.fetchrow(
            "SELECT partner_id, removed_at FROM chargers WHERE id = $1 FOR UPDATE", charger_id
        )
        if current is None:
            raise NotFound(f"charger {charger_id} not found")
        if current["removed_at"] is not None:
            raise Conflict(f"charger {charger_id} is decommissioned")
        if current["partner_id"] == partner_id:
            return await get_charger(pool, charger_id)
        if partner_id is not None:
            await _check_quota(conn, partner_id)
        row = await conn.fetchrow(
            "UPDATE chargers SET partner_id = $2,"
            " assigned_at = CASE WHEN $2::text IS NULL THEN NULL ELSE now() END"
            " WHERE id = $1 RETURNING *",
            charger_id,
            partner_id,
        )
        await audit(
            conn,
            actor,
            "charger.assign" if partner_id is not None else "charger.unassign",
            charger_id,
            {"partner_id": partner_id, "previous_partner_id": current["partner_id"]},
        )
        await _project(r, keys, row)
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
        await _project(r, keys, row)
    await announce(r, keys, charger=charger_id)
    return _charger(row)


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
