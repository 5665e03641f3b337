"""Tokens: the RFID idTags (OCPP 1.6) and idTokens (2.0.1) that may charge. Registered,
changed and deleted by admins, and by partners for their own drivers; every change is audited
in its transaction and projected into the token's Redis hash before it commits, which csms
reads on every Authorize (nothing caches it, so a change counts on every node at once).

A token is found by its id whatever the case (OCPP compares them case-insensitively); a
partner's call names the partner as `owner`, and a token that is not the owner's is not found.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import redis.asyncio as redis

from shared.ids import token_uid, valid_token_id
from shared.redis_keys import Keys
from shared.registry.audit_log import audit
from shared.registry.errors import Conflict, NotFound, RegistryError
from shared.registry.local_lists import mark_stale
from shared.registry.projection import project_token
from shared.registry.records import TokenRecord

TOKEN_STATUSES = ("Accepted", "Blocked", "Expired")
# OCPP 2.0.1 IdTokenEnumType; an RFID card is ISO14443.
TOKEN_TYPES = (
    "Central",
    "eMAID",
    "ISO14443",
    "ISO15693",
    "KeyCode",
    "Local",
    "MacAddress",
    "NoAuthorization",
)
DEFAULT_TYPE = "ISO14443"
GROUP_ID_MAX = 36  # a 2.0.1 idToken; a 1.6 answer names a parentIdTag only up to 20

# the fields callers may set, by column
_UPDATABLE = ("status", "type", "expires_at", "group_id", "partner_id")


def _token(row: asyncpg.Record) -> TokenRecord:
    return TokenRecord(
        row["id"],
        row["type"],
        row["status"],
        row["expires_at"],
        row["group_id"],
        row["partner_id"],
        row["created_at"],
        row["updated_at"],
    )


def _check(values: dict[str, Any]) -> None:
    unknown = set(values) - set(_UPDATABLE)
    if unknown:
        raise RegistryError(f"cannot set {', '.join(sorted(unknown))}")
    if "status" in values and values["status"] not in TOKEN_STATUSES:
        raise RegistryError(f"status must be one of {', '.join(TOKEN_STATUSES)}")
    if "type" in values and values["type"] not in TOKEN_TYPES:
        raise RegistryError(f"type must be one of {', '.join(TOKEN_TYPES)}")
    group = values.get("group_id")
    if group is not None and not valid_token_id(group):
        raise RegistryError(f"invalid group id {group!r}")
    expires = values.get("expires_at")
    if expires is not None and (not isinstance(expires, datetime) or expires.tzinfo is None):
        raise RegistryError("expiry needs a time zone")


def _details(values: dict[str, Any]) -> dict[str, Any]:
    """What the audit log keeps of the values set (times as ISO 8601)."""
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items()}


def _valid_id(token_id: str) -> None:
    if not valid_token_id(token_id):
        raise RegistryError(f"invalid token id {token_id!r}: 1-36 of A-Z a-z 0-9 . _ : * -")


async def _partner_exists(conn: Any, partner_id: str) -> None:
    found = await conn.fetchval(
        "SELECT 1 FROM partners WHERE id = $1 AND deleted_at IS NULL FOR SHARE", partner_id
    )
    if found is None:
        raise NotFound(f"partner {partner_id} not found")


async def create_token(
    pool: asyncpg.Pool,
    r: redis.Redis,
    keys: Keys,
    token_id: str,
    *,
    status: str,
    type: str | None = None,
    expires_at: datetime | None = None,
    group_id: str | None = None,
    partner_id: str | None = None,
    actor: str = "admin",
) -> TokenRecord:
    """Register a token; Conflict if one with this id (in any case) exists."""
    _valid_id(token_id)
    values = {
        "status": status,
        "type": type or DEFAULT_TYPE,
        "expires_at": expires_at,
        "group_id": group_id,
        "partner_id": partner_id,
    }
    _check(values)
    async with pool.acquire() as conn, conn.transaction():
        if partner_id is not None:
            await _partner_exists(conn, partner_id)
        row = await _insert(conn, token_id, values)
        if row is None:
            raise Conflict(f"token {token_id} already registered")
        await audit(conn, actor, "token.create", row["id"], _details(values))
        await mark_stale(conn, partners=[partner_id])
        await project_token(r, keys, row)
    return _token(row)


async def _insert(conn: Any, token_id: str, values: dict[str, Any]) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "INSERT INTO tokens (id, status, type, expires_at, group_id, partner_id)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING *",
        token_id,
        values["status"],
        values["type"],
        values["expires_at"],
        values["group_id"],
        values["partner_id"],
    )


def _not_found() -> NotFound:
    # One message, without the id, whether it does not exist or is another partner's: a
    # partner must never learn that someone else's token exists.
    return NotFound("token not found")


async def get_token(pool: asyncpg.Pool, token_id: str, *, owner: str | None = None) -> TokenRecord:
    """The token with this id (any case); with `owner`, only if it is that partner's."""
    row = await pool.fetchrow("SELECT * FROM tokens WHERE upper(id) = $1", token_uid(token_id))
    if row is None or (owner is not None and row["partner_id"] != owner):
        raise _not_found()
    return _token(row)


async def list_tokens(
    pool: asyncpg.Pool,
    *,
    partner_id: str | None = None,
    status: str | None = None,
    group_id: str | None = None,
    after: str = "",
    limit: int = 100,
) -> list[TokenRecord]:
    """Tokens in id order after `after` (keyset pagination), filtered by partner, status (as
    set) and group."""
    rows = await pool.fetch(
        "SELECT * FROM tokens WHERE id > $1 AND ($2::text IS NULL OR partner_id = $2)"
        " AND ($3::text IS NULL OR status = $3)"
        " AND ($4::text IS NULL OR upper(group_id) = upper($4)) ORDER BY id LIMIT $5",
        after,
        partner_id,
        status,
        group_id,
        limit,
    )
    return [_token(r) for r in rows]


async def update_token(
    pool: asyncpg.Pool,
    r: redis.Redis,
    keys: Keys,
    token_id: str,
    changes: dict[str, Any],
    *,
    owner: str | None = None,
    actor: str = "admin",
) -> TokenRecord:
    """Change some of status, type, expires_at, group_id, partner_id (None clears expiry,
    group or partner); with `owner`, only that partner's token."""
    _check(changes)
    for required in ("status", "type"):
        if required in changes and changes[required] is None:
            raise RegistryError(f"a token needs a {required}")
    async with pool.acquire() as conn, conn.transaction():
        current = await conn.fetchrow(
            "SELECT * FROM tokens WHERE upper(id) = $1 FOR UPDATE", token_uid(token_id)
        )
        if current is None or (owner is not None and current["partner_id"] != owner):
            raise _not_found()
        if not changes:
            return _token(current)
        if changes.get("partner_id") is not None:
            await _partner_exists(conn, changes["partner_id"])
        # column names come from _UPDATABLE only, never from the caller
        assignments = ", ".join(f"{col} = ${i}" for i, col in enumerate(changes, start=2))
        row = await conn.fetchrow(
            f"UPDATE tokens SET {assignments}, updated_at = now() WHERE id = $1 RETURNING *",
            current["id"],
            *changes.values(),
        )
        await audit(conn, actor, "token.update", row["id"], _details(changes))
        await mark_stale(conn, partners=[current["partner_id"], row["partner_id"]])
        await project_token(r, keys, row)
    return _token(row)


async def put_token(
    pool: asyncpg.Pool,
    r: redis.Redis,
    keys: Keys,
    token_id: str,
    values: dict[str, Any],
    *,
    owner: str,
    actor: str,
) -> tuple[TokenRecord, bool]:
    """A partner's token, created or replaced as a whole (OCPI's PUT); returns it and whether
    it was created. A token that exists and is not the partner's is not found."""
    _valid_id(token_id)
    full = {
        "status": values.get("status"),
        "type": values.get("type") or DEFAULT_TYPE,
        "expires_at": values.get("expires_at"),
        "group_id": values.get("group_id"),
        "partner_id": owner,
    }
    _check(full)
    async with pool.acquire() as conn, conn.transaction():
        current = await conn.fetchrow(
            "SELECT * FROM tokens WHERE upper(id) = $1 FOR UPDATE", token_uid(token_id)
        )
        if current is not None and current["partner_id"] != owner:
            raise _not_found()
        if current is None:
            await _partner_exists(conn, owner)
            row = await _insert(conn, token_id, full)
            if row is None:  # registered meanwhile by someone else
                raise _not_found()
            action = "token.create"
        else:
            row = await conn.fetchrow(
                "UPDATE tokens SET status = $2, type = $3, expires_at = $4, group_id = $5,"
                " updated_at = now() WHERE id = $1 RETURNING *",
                current["id"],
                full["status"],
                full["type"],
                full["expires_at"],
                full["group_id"],
            )
            action = "token.update"
        await audit(conn, actor, action, row["id"], _details(full))
        await mark_stale(conn, partners=[owner])
        await project_token(r, keys, row)
    return _token(row), current is None


async def delete_token(
    pool: asyncpg.Pool, r: redis.Redis, keys: Keys, token_id: str, *, actor: str = "admin"
) -> TokenRecord:
    """Delete a token: from now on it is unknown to every csms node."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "DELETE FROM tokens WHERE upper(id) = $1 RETURNING *", token_uid(token_id)
        )
        if row is None:
            raise _not_found()
        await audit(conn, actor, "token.delete", row["id"], {"partner_id": row["partner_id"]})
        await mark_stale(conn, partners=[row["partner_id"]])
        await project_token(r, keys, None, removed=row["id"])
    return _token(row)
