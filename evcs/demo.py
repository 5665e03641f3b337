"""The demo data of `evcs dev`: a partner with an API key and chargers, another partner's
charger to show isolation, and whether the demo chargers are connected."""

from __future__ import annotations

from pathlib import Path

from shared import apikeys, db, registry
from shared.redis_client import connect, connect_sync
from shared.redis_keys import F, Keys
from shared.settings import Settings

DEMO_PARTNER = "demo"
OTHER_PARTNER = "other"
DEMO_CHARGERS = (("DEMO-16-1", "ocpp1.6"), ("DEMO-201-1", "ocpp2.0.1"), ("DEMO-16-2", "ocpp1.6"))
OTHER_CHARGER = "OTHER-16-1"


def env_lines(values: dict[str, str]) -> str:
    """dev.env's text: `export` lines, so `. .evcs/dev.env` reaches the commands run after."""
    return "".join(f"export {k}={v}\n" for k, v in values.items())


def read_env(path: Path) -> dict[str, str]:
    """The values a previous run wrote to dev.env (its API key is reused while still valid)."""
    if not path.exists():
        return {}
    lines = (line.removeprefix("export ") for line in path.read_text().splitlines())
    pairs = (line.split("=", 1) for line in lines if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs}


async def seed(settings: Settings, previous: dict[str, str]) -> str:
    """Demo partner, its API key (reused while still valid) and chargers; returns the key."""
    assert settings.database_url and settings.redis_url
    await db.migrate(settings.database_url)
    pool = await db.create_pool(settings.database_url, max_size=2)
    r = await connect(settings.redis_url, mode=settings.redis_mode)
    keys = Keys.of(settings)
    try:
        for pid, name in ((DEMO_PARTNER, "Demo partner"), (OTHER_PARTNER, "Another partner")):
            try:
                await registry.create_partner(pool, name, partner_id=pid, actor="evcs dev")
            except registry.Conflict:
                pass
        chargers = [(cp, proto, DEMO_PARTNER) for cp, proto in DEMO_CHARGERS]
        chargers.append((OTHER_CHARGER, "ocpp1.6", OTHER_PARTNER))
        for cp, proto, owner in chargers:
            try:
                await registry.register_charger(
                    pool, r, keys, cp, protocol=proto, partner_id=owner, actor="evcs dev"
                )
            except registry.Conflict:
                pass
        await registry.ensure_synced(pool, r, keys)  # a full sync only after a Redis loss
        key = previous.get("EVCS_DEMO_API_KEY", "")
        record = (
            await registry.find_key(pool, apikeys.digest(key)) if apikeys.well_formed(key) else None
        )
        if record is None or record.revoked or record.partner_id != DEMO_PARTNER:
            _, key = await registry.issue_api_key(pool, DEMO_PARTNER, actor="evcs dev")
        return key
    finally:
        await pool.close()
        await r.aclose()


def all_online(redis_url: str, keys: Keys) -> bool:
    """Whether every demo charger has a connection open on a csms node."""
    r = connect_sync(redis_url)
    try:
        return all(r.hget(keys.charger(cp), F.ONLINE) == "1" for cp, _ in DEMO_CHARGERS)
    finally:
        r.close()
