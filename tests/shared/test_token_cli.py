"""`evcs admin token …`: tokens from the command line, on the registry the admin API uses;
and the token projection rebuilt after Redis lost it."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson
import pytest
import redis.asyncio as redis

from shared import registry
from shared.redis_keys import TF, Keys


async def test_token_add_list_get_update_delete(
    admin: object, pool: asyncpg.Pool, rds: redis.Redis, keys: Keys, uid: str
) -> None:
    run: Any = admin
    pid = f"tokcli-{uid}"
    await registry.create_partner(pool, "Token CLI", partner_id=pid)
    tag = f"CLI-{uid}".upper()
    shown = orjson.loads(
        await run("token", "add", tag, "--partner", pid, "--group", "FLEET", "--type", "eMAID")
    )
    assert (shown["id"], shown["status"], shown["partnerId"], shown["type"]) == (
        tag,
        "Accepted",
        pid,
        "eMAID",
    )
    assert (await rds.hgetall(keys.token(tag)))[TF.PARTNER] == pid
    assert "already registered" in await run("token", "add", tag.lower(), fails=True)
    assert "invalid token id" in await run("token", "add", "a/b", fails=True)

    listed = orjson.loads(await run("token", "list", "--partner", pid))
    assert [t["id"] for t in listed] == [tag]
    assert orjson.loads(await run("token", "get", tag.lower()))["groupId"] == "FLEET"

    out = await run(
        "token",
        "update",
        tag,
        "--status",
        "Blocked",
        "--group",
        "none",
        "--expires",
        "2030-01-01T00:00:00+00:00",
    )
    updated = orjson.loads(out)
    assert (updated["status"], updated["groupId"]) == ("Blocked", None)
    assert updated["expiresAt"].startswith("2030-01-01")
    projected = await rds.hgetall(keys.token(tag))
    assert projected[TF.STATUS] == "Blocked" and projected[TF.GROUP] == ""
    assert orjson.loads(await run("token", "list", "--status", "Blocked", "--partner", pid))
    assert orjson.loads(await run("token", "update", tag, "--expires", "none"))["expiresAt"] is None

    assert "deleted" in await run("token", "delete", tag)
    assert not await rds.exists(keys.token(tag))
    assert "not found" in await run("token", "get", tag, fails=True)
    assert "not found" in await run("token", "delete", tag, fails=True)
    actions = [e.action for e in await registry.audit_entries(pool, target=tag)]
    assert actions == ["token.delete", "token.update", "token.update", "token.create"]
    assert all(e.actor.startswith("cli") for e in await registry.audit_entries(pool, target=tag))


async def test_tokens_are_projected_again_after_redis_lost_them(
    pool: asyncpg.Pool, rds: redis.Redis, keys: Keys, uid: str
) -> None:
    tag = f"SYNC-{uid}".upper()
    await registry.create_token(pool, rds, keys, tag, status="Blocked", group_id="G")
    await rds.delete(keys.token(tag), keys.tokens_synced)  # as a Redis restart without data
    await registry.ensure_synced(pool, rds, keys)
    projected = await rds.hgetall(keys.token(tag))
    assert (projected[TF.STATUS], projected[TF.GROUP]) == ("Blocked", "G")
    assert await rds.exists(keys.tokens_synced)
    await registry.delete_token(pool, rds, keys, tag)


async def test_deleting_a_partner_deletes_its_drivers_tokens(
    pool: asyncpg.Pool, rds: redis.Redis, keys: Keys, uid: str
) -> None:
    partner = await registry.create_partner(pool, "Gone", partner_id=f"gone-{uid}")
    tag = f"GONE-{uid}".upper()
    await registry.create_token(pool, rds, keys, tag, status="Accepted", partner_id=partner.id)
    await registry.delete_partner(pool, rds, keys, partner.id)
    with pytest.raises(registry.NotFound):
        await registry.get_token(pool, tag)
    assert not await rds.exists(keys.token(tag))
    [entry] = await registry.audit_entries(pool, target=partner.id, action="partner.delete")
    assert entry.details["tokensDeleted"] == 1
