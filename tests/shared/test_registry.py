"""The registry: keys rotate with an overlap and revoke idempotently, quotas hold, deleting a
partner leaves nothing usable behind, and every change that gateways cache is announced."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson
import pytest
import redis.asyncio as redis

from shared import apikeys, registry
from shared.pubsub import Subscription
from shared.redis_keys import TF, F, Keys


@pytest.fixture
async def announcements(rds: redis.Redis, keys: Keys) -> AsyncIterator[list[dict[str, Any]]]:
    """What the registry announces while the test runs."""
    heard: list[dict[str, Any]] = []
    subscription = Subscription(
        rds, keys.registry_changes, lambda data: heard.append(orjson.loads(data))
    )
    await subscription.start()
    yield heard
    await subscription.stop()


async def _heard(heard: list[dict[str, Any]], expected: dict[str, Any]) -> None:
    for _ in range(250):
        if expected in heard:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{expected} never announced; heard {heard}")


async def test_rotation_keeps_the_old_key_for_the_overlap_only(
    pool: asyncpg.Pool,
    rds: redis.Redis,
    keys: Keys,
    uid: str,
    announcements: list[dict[str, Any]],
) -> None:
    partner = await registry.create_partner(pool, "R", partner_id=f"rot-{uid}")
    old_id, old_key = await registry.issue_api_key(pool, partner.id, name="prod")
    before = datetime.now(UTC)
    new_id, new_key, old = await registry.rotate_key(
        pool, rds, keys, old_id, overlap=timedelta(hours=1)
    )
    assert new_key != old_key and apikeys.well_formed(new_key)
    assert old.replaced_by == new_id and old.expires_at is not None
    assert before + timedelta(minutes=59) < old.expires_at <= datetime.now(UTC) + timedelta(hours=1)
    assert old.state(datetime.now(UTC)) == "rotating"
    assert old.state(datetime.now(UTC) + timedelta(hours=2)) == "expired"
    record = await registry.find_key(pool, apikeys.digest(old_key))
    assert record is not None and record.replaced and not record.revoked
    fresh = await registry.get_key(pool, new_id)
    assert fresh.name == "prod" and fresh.expires_at is None
    await _heard(announcements, {"partner": partner.id, "charger": None})

    with pytest.raises(registry.Conflict):
        await registry.rotate_key(pool, rds, keys, old_id, overlap=timedelta(0))
    # an expiry earlier than the overlap stays
    short_id, _ = await registry.issue_api_key(
        pool, partner.id, expires_at=datetime.now(UTC) + timedelta(minutes=1)
    )
    _, _, short = await registry.rotate_key(pool, rds, keys, short_id, overlap=timedelta(days=1))
    assert short.expires_at is not None and short.expires_at < datetime.now(UTC) + timedelta(
        minutes=2
    )

    revoked = await registry.revoke_key(pool, rds, keys, new_id)
    again = await registry.revoke_key(pool, rds, keys, new_id)
    assert revoked.revoked_at is not None and again.revoked_at == revoked.revoked_at
    with pytest.raises(registry.Conflict):
        await registry.rotate_key(pool, rds, keys, new_id, overlap=timedelta(0))
    with pytest.raises(registry.NotFound):
        await registry.revoke_key(pool, rds, keys, "key_0000000000000000")
    audit = [
        r["action"]
        for r in await pool.fetch(
            "SELECT action FROM audit_log WHERE target = $1 ORDER BY id", partner.id
        )
    ]
    assert audit.count("api_key.rotate") == 2 and audit.count("api_key.revoke") == 1


async def test_keys_by_prefix(pool: asyncpg.Pool, uid: str) -> None:
    partner = await registry.create_partner(pool, "P", partner_id=f"pre-{uid}")
    key_id, key = await registry.issue_api_key(pool, partner.id)
    for prefix in (key[:10], apikeys.display_prefix(key)):
        assert key_id in [k.id for k in await registry.list_keys(pool, prefix=prefix)]
    # a whole key (as a secret scanner reports it) finds exactly its own record
    assert [k.id for k in await registry.list_keys(pool, prefix=key)] == [key_id]
    assert await registry.list_keys(pool, prefix=apikeys.generate()) == []
    # LIKE wildcards in a prefix are plain characters
    assert await registry.list_keys(pool, prefix="evcs%") == []
    assert [k.id for k in await registry.list_keys(pool, partner_id=partner.id)] == [key_id]
    with pytest.raises(registry.RegistryError):
        await registry.list_keys(pool)


async def test_quota_assignment_and_decommissioning(
    pool: asyncpg.Pool,
    rds: redis.Redis,
    keys: Keys,
    uid: str,
    announcements: list[dict[str, Any]],
) -> None:
    partner = await registry.create_partner(pool, "Q", partner_id=f"quota-{uid}", charger_quota=1)
    first, second = f"Q-{uid}-1", f"Q-{uid}-2"
    await registry.register_charger(pool, rds, keys, first, partner_id=partner.id)
    await registry.register_charger(pool, rds, keys, second, protocol="ocpp1.6")
    await _heard(announcements, {"partner": None, "charger": second})
    with pytest.raises(registry.Conflict):
        await registry.assign_charger(pool, rds, keys, second, partner.id)
    # assigning a charger to the partner it already has is no new use of the quota
    same = await registry.assign_charger(pool, rds, keys, first, partner.id)
    assert same.partner_id == partner.id
    removed = await registry.decommission_charger(pool, rds, keys, first)
    assert removed.removed_at is not None
    assert await rds.hget(keys.charger(first), F.REMOVED) == "1"
    await _heard(announcements, {"partner": None, "charger": first})
    with pytest.raises(registry.Conflict):
        await registry.decommission_charger(pool, rds, keys, first)
    with pytest.raises(registry.Conflict):
        await registry.assign_charger(pool, rds, keys, first, None)
    # the decommissioned charger no longer counts against the quota
    moved = await registry.assign_charger(pool, rds, keys, second, partner.id)
    assert moved.assigned_at is not None
    assert (await registry.get_partner(pool, partner.id)).chargers == 1
    with pytest.raises(registry.NotFound):
        await registry.decommission_charger(pool, rds, keys, f"NONE-{uid}")


async def test_deleting_a_partner_revokes_keys_and_frees_chargers(
    pool: asyncpg.Pool, rds: redis.Redis, keys: Keys, uid: str
) -> None:
    partner = await registry.create_partner(pool, "D", partner_id=f"del-{uid}")
    _, key = await registry.issue_api_key(pool, partner.id)
    cp = f"D-{uid}"
    await registry.register_charger(pool, rds, keys, cp, partner_id=partner.id)
    result = await registry.delete_partner(pool, rds, keys, partner.id)
    assert result == {"keysRevoked": 1, "chargersUnassigned": 1}
    assert await registry.find_key(pool, apikeys.digest(key)) is None
    assert await rds.hget(keys.charger(cp), F.OWNER) == ""
    assert (await registry.get_charger(pool, cp)).partner_id is None
    with pytest.raises(registry.NotFound):
        await registry.get_partner(pool, partner.id)
    with pytest.raises(registry.NotFound):
        await registry.delete_partner(pool, rds, keys, partner.id)
    with pytest.raises(registry.Conflict):  # ids are not reused
        await registry.create_partner(pool, "D again", partner_id=partner.id)


async def test_a_partner_deletion_redis_failed_midway_leaves_redis_as_postgresql_keeps_it(
    pool: asyncpg.Pool,
    rds: redis.Redis,
    keys: Keys,
    uid: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Redis took the chargers and tokens and then failed: PostgreSQL rolls back, and Redis is
    put back, else the partner would find its chargers gone and its drivers refused."""
    partner = await registry.create_partner(pool, "R", partner_id=f"half-{uid}")
    cp, tag = f"H-{uid}", f"HT{uid}".upper()
    await registry.register_charger(pool, rds, keys, cp, partner_id=partner.id)
    await registry.create_token(pool, rds, keys, tag, status="Accepted", partner_id=partner.id)
    project_all = registry.partners.project_all
    calls = 0

    async def fails_after_writing(*args: Any, **kwargs: Any) -> None:
        nonlocal calls
        calls += 1
        await project_all(*args, **kwargs)
        if calls == 1:
            raise redis.ConnectionError("Connection reset by peer")  # the reply is lost

    monkeypatch.setattr(registry.partners, "project_all", fails_after_writing)
    with pytest.raises(redis.ConnectionError):
        await registry.delete_partner(pool, rds, keys, partner.id)
    assert (await registry.get_partner(pool, partner.id)).id == partner.id
    assert await rds.hget(keys.charger(cp), F.OWNER) == partner.id
    assert await rds.hget(keys.token(tag), TF.PARTNER) == partner.id

    # and an assignment that changes nothing still mends a projection left behind
    await rds.hset(keys.charger(cp), F.OWNER, "")
    await registry.assign_charger(pool, rds, keys, cp, partner.id)
    assert await rds.hget(keys.charger(cp), F.OWNER) == partner.id


async def test_bad_input_changes_nothing(
    pool: asyncpg.Pool, rds: redis.Redis, keys: Keys, uid: str
) -> None:
    partner = await registry.create_partner(pool, "V", partner_id=f"val-{uid}")
    for kwargs in ({"protocol": "ocpp9"}, {"password": "short"}):
        with pytest.raises(registry.RegistryError):
            await registry.register_charger(pool, rds, keys, f"V-{uid}", **kwargs)
    assert await pool.fetchval("SELECT count(*) FROM chargers WHERE id = $1", f"V-{uid}") == 0
    for changes in ({"rate_limit_minute": 0}, {"charger_quota": -1}, {"name": None}, {"id": "x"}):
        with pytest.raises(registry.RegistryError):
            await registry.update_partner(pool, rds, keys, partner.id, changes)
    with pytest.raises(registry.RegistryError):
        await registry.set_partner_status(pool, rds, keys, partner.id, "gone")
    assert await registry.get_partner(pool, partner.id) == partner.__class__(
        partner.id, "V", "active", None, None, None, partner.created_at, 0
    )
