"""What an operator sees of registered chargers: each registry row together with its live
state (online, status, node, last seen, firmware), read from the chargers' Redis hashes in
one round trip. The admin API and `evcs admin` both answer with this."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import TypeVar

import asyncpg
import redis.asyncio as redis

from gateway.admin_schemas import AdminChargerJson, charger_admin_json
from shared import registry
from shared.charger_view import charger_view
from shared.framing import SUBPROTOCOLS
from shared.redis_keys import F, Keys
from shared.redis_lane import HotPath
from shared.registry import ChargerRecord

T = TypeVar("T")
R = TypeVar("R")

# A filtered page reads chargers in chunks until it is full, but stops after this many so
# that no request scans a huge fleet; its cursor then continues where it stopped.
SCAN_CHUNK = 500
SCAN_MAX = 10_000


async def scan_page(
    fetch: Callable[[str, int], Awaitable[Sequence[T]]],
    id_of: Callable[[T], str],
    render: Callable[[Sequence[T]], Awaitable[list[R | None]]],
    limit: int,
    after: str,
    filtered: bool,
) -> tuple[list[R], str | None]:
    """A page of chargers in id order (keyset pagination): `fetch(after, n)` reads the next n
    in id order from PostgreSQL, `render` each with its live state, None for one a filter on
    that state leaves out. Returns the page and the id to continue after (None: the end).

    Unfiltered, one read of limit + 1 says whether there is more; filtered (the state lives in
    Redis, so no index can answer), chunks are read until the page is full or SCAN_MAX were
    looked at: a page may then hold fewer than `limit` while its cursor leads on."""
    chunk = SCAN_CHUNK if filtered else limit + 1
    page: list[R] = []
    scanned = 0
    more = False
    while True:
        items = await fetch(after, chunk)
        for i, (item, shown) in enumerate(zip(items, await render(items), strict=True)):
            if len(page) == limit:
                more = True
                break
            scanned += 1
            after = id_of(item)
            if shown is not None:
                page.append(shown)
            if scanned >= SCAN_MAX and (i + 1 < len(items) or len(items) == chunk):
                more = True
                break
        if more or len(items) < chunk:
            break
    return page, after if more else None


async def charger_hashes(
    r: redis.Redis, keys: Keys, ids: Sequence[str], path: HotPath | None = None
) -> list[dict[str, str]]:
    """Every charger's hash in one round trip (on the app's hot path when given one)."""
    if path is not None:
        return await path.hashes([keys.charger(charger_id) for charger_id in ids])
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
