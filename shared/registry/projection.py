"""The registry as csms and gateways read it on every request: each charger's ownership and
credentials projected into its Redis hash, each token's status into a hash of its own, and
changes announced so caches drop at once."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
import redis.asyncio as redis

from shared.ids import token_uid
from shared.redis_client import UNAVAILABLE
from shared.redis_keys import TF, F, Keys

# The logger name the registry's log lines carried before it became a package.
log = logging.getLogger("shared.registry")


def _projected_fields(row: asyncpg.Record | dict[str, Any]) -> dict[str, str]:
    """The fields of a charger's hash that its registry row decides."""
    since = row["assigned_at"] or row["registered_at"]
    return {
        F.REGISTERED: "1",
        F.OWNER: row["partner_id"] or "",
        # what happened before is not the owner's to replay (as in the history it reads)
        F.OWNER_SINCE: str(int(since.timestamp() * 1000)) if row["partner_id"] else "",
        F.PASSWORD: row["password_hash"] or "",
        F.REMOVED: "1" if row["removed_at"] is not None else "0",
    }


async def project(r: redis.Redis, keys: Keys, row: asyncpg.Record) -> None:
    """Write one charger's registry fields into its hash."""
    await r.hset(keys.charger(row["id"]), mapping=_projected_fields(row))


async def project_all(
    r: redis.Redis,
    keys: Keys,
    rows: Sequence[asyncpg.Record],
    tokens: Sequence[asyncpg.Record] = (),
    removed_tokens: Sequence[str] = (),
) -> None:
    """Project several chargers and tokens, and delete removed tokens' hashes, in one round
    trip."""
    pipe = r.pipeline(transaction=False)
    for row in rows:
        pipe.hset(keys.charger(row["id"]), mapping=_projected_fields(row))
    for token in tokens:
        pipe.hset(keys.token(token_uid(token["id"])), mapping=token_fields(token))
    for token_id in removed_tokens:
        pipe.delete(keys.token(token_uid(token_id)))
    await pipe.execute()


async def sync_chargers(pool: asyncpg.Pool, r: redis.Redis, keys: Keys, batch: int = 5000) -> int:
    """Project every charger into Redis (after a Redis loss); returns how many."""
    count = 0
    async with pool.acquire() as conn, conn.transaction():
        cursor = conn.cursor("SELECT * FROM chargers")
        pipe = r.pipeline(transaction=False)
        async for row in cursor:
            pipe.hset(keys.charger(row["id"]), mapping=_projected_fields(row))
            count += 1
            if count % batch == 0:
                await pipe.execute()
        await pipe.execute()
    await r.set(keys.chargers_synced, str(time.time()))
    return count


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def token_fields(row: asyncpg.Record | dict[str, Any]) -> dict[str, str]:
    """A token's hash: what csms needs to answer an Authorize."""
    expires = row["expires_at"]
    return {
        TF.STATUS: row["status"],
        # a difference, not .timestamp(): no overflow at the ends of the calendar
        TF.EXPIRES: repr((expires - _EPOCH).total_seconds()) if expires is not None else "",
        TF.GROUP: row["group_id"] or "",
        TF.PARTNER: row["partner_id"] or "",
        TF.TYPE: row["type"],
    }


async def project_token(
    r: redis.Redis, keys: Keys, row: asyncpg.Record | None, *, removed: str | None = None
) -> None:
    """Write one token's hash, or delete the hash of the token `removed`."""
    if row is not None:
        await r.hset(keys.token(token_uid(row["id"])), mapping=token_fields(row))
    if removed is not None:
        await r.delete(keys.token(token_uid(removed)))


async def sync_tokens(pool: asyncpg.Pool, r: redis.Redis, keys: Keys, batch: int = 5000) -> int:
    """Project every token into Redis (after a Redis loss); returns how many."""
    count = 0
    async with pool.acquire() as conn, conn.transaction():
        cursor = conn.cursor("SELECT * FROM tokens")
        pipe = r.pipeline(transaction=False)
        async for row in cursor:
            pipe.hset(keys.token(token_uid(row["id"])), mapping=token_fields(row))
            count += 1
            if count % batch == 0:
                await pipe.execute()
        await pipe.execute()
    await r.set(keys.tokens_synced, str(time.time()))
    return count


async def ensure_synced(pool: asyncpg.Pool, r: redis.Redis, keys: Keys) -> None:
    """Sync once per Redis lifetime: the marker vanishes with the data it vouches for."""
    if not await r.exists(keys.chargers_synced):
        await sync_chargers(pool, r, keys)
    if not await r.exists(keys.tokens_synced):
        await sync_tokens(pool, r, keys)


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
