"""What an operator sees of registered chargers: each registry row together with its live
state (online, status, node, last seen, firmware), read from the chargers' Redis hashes in
one round trip. The admin API and `evcs admin` both answer with this."""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence

import asyncpg
import redis.asyncio as redis

from gateway.admin_schemas import AdminChargerJson, charger_admin_json
from shared import registry
from shared.charger_view import charger_view
from shared.framing import SUBPROTOCOLS
from shared.redis_keys import F, Keys
from shared.registry import ChargerRecord


async def charger_hashes(r: redis.Redis, keys: Keys, ids: Sequence[str]) -> list[dict[str, str]]:
    """Every charger's hash in one round trip."""
    pipe = r.pipeline(transaction=False)
    for charger_id in ids:
        pipe.hgetall(keys.charger(charger_id))
    return list(await pipe.execute())


async def admin_chargers(
    r: redis.Redis,
    keys: Keys,
    records: Sequence[ChargerRecord],
    alive_nodes: Collection[str],
    grace: float,
) -> list[AdminChargerJson]:
    """The registry rows with their live state, in the same order."""
    now = time.time()
    hashes = await charger_hashes(r, keys, [c.id for c in records])
    return [
        charger_admin_json(c, fields, charger_view(c.id, fields, now, alive_nodes, grace))
        for c, fields in zip(records, hashes, strict=True)
    ]


async def charger_protocol(
    pool: asyncpg.Pool, r: redis.Redis, keys: Keys, charger_id: str
) -> tuple[str | None, bool]:
    """The charger's OCPP version (as it last connected, else as it was registered; None when
    neither says) and whether it is connected. Raises registry.NotFound for a charger
    neither knows."""
    live, online = await r.hmget(keys.charger(charger_id), [F.PROTOCOL, F.ONLINE])
    if live in SUBPROTOCOLS:
        return str(live), online == "1"
    record = await registry.get_charger(pool, charger_id)
    return (record.protocol if record.protocol in SUBPROTOCOLS else None), online == "1"
