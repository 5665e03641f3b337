"""What the operator console's System page shows: the csms nodes and how many chargers each
holds, and how far the recorders are behind the event stream."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field

import asyncpg
import redis.asyncio as redis
from redis.exceptions import ResponseError

from gateway.command_log import iso_epoch
from gateway.feed_events import parse_entry_id
from gateway.system_schemas import NodeJson, RecorderJson, RecorderShardJson
from shared.redis_keys import RECORDER_GROUP, F, Keys

CENSUS_CHUNK = 2000


@dataclass(frozen=True, slots=True)
class Count:
    registered: int
    online: int
    per_node: dict[str, int]  # online chargers per csms node
    at: float  # epoch seconds


@dataclass(slots=True)
class Census:
    """How many registered chargers are online, and on which node. A count reads every
    charger's state (one round trip per CENSUS_CHUNK chargers), so it is kept for `max_age`
    seconds and concurrent requests share one count."""

    pool: asyncpg.Pool
    redis: redis.Redis
    keys: Keys
    grace: float
    max_age: float = 10.0
    _last: Count | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def count(self, alive_nodes: Collection[str]) -> Count:
        async with self._lock:
            if self._last is None or time.time() - self._last.at > self.max_age:
                self._last = await self._count(alive_nodes)
            return self._last

    async def _count(self, alive_nodes: Collection[str]) -> Count:
        per_node: Counter[str] = Counter()
        registered, after = 0, ""
        while True:
            rows = await self.pool.fetch(
                "SELECT id FROM chargers WHERE removed_at IS NULL AND id > $1 ORDER BY id LIMIT $2",
                after,
                CENSUS_CHUNK,
            )
            if not rows:
                break
            ids = [row["id"] for row in rows]
            pipe = self.redis.pipeline(transaction=False)
            for charger_id in ids:
                pipe.hmget(self.keys.charger(charger_id), [F.NODE, F.ONLINE, F.SEEN])
            now = time.time()
            for node, online, seen in await pipe.execute():
                # online as the charger view says: connected on a live node, heard from lately
                fresh = seen is not None and now - float(seen) <= self.grace
                if online == "1" and node in alive_nodes and fresh:
                    per_node[node] += 1
            registered += len(ids)
            after = ids[-1]
            if len(ids) < CENSUS_CHUNK:
                break
        return Count(registered, sum(per_node.values()), dict(per_node), time.time())


async def nodes(r: redis.Redis, keys: Keys, per_node: dict[str, int]) -> list[NodeJson]:
    """Every node that announced itself in the last hour, alive or not, in id order."""
    now = time.time()
    members = await r.zrange(keys.nodes, 0, -1, withscores=True)
    return [
        {
            "nodeId": str(node),
            "alive": until > now,
            "aliveUntil": iso_epoch(until),
            "chargers": per_node.get(str(node), 0),
        }
        for node, until in sorted(members)
    ]


def _age(entry_id: str | None, now: float) -> float:
    parsed = parse_entry_id(entry_id) if entry_id else None
    return max(0.0, round(now - parsed[0] / 1000, 3)) if parsed else 0.0


async def _shard(r: redis.Redis, shard: int, stream: str) -> RecorderShardJson | None:
    """The recorders' progress on one stream shard; None before any recorder ever read it."""
    client = r.node_client(stream)
    try:
        groups = await client.xinfo_groups(stream)
    except ResponseError:
        return None  # no such stream yet
    group = next((g for g in groups if g["name"] == RECORDER_GROUP), None)
    if group is None:
        return None
    length = await client.xlen(stream)
    summary = await client.xpending(stream, RECORDER_GROUP)
    oldest: str | None = summary["min"] if summary["pending"] else None
    if oldest is None:
        # nothing in hand: the oldest entry not yet recorded is the first one not delivered
        after = await client.xrange(stream, f"({group['last-delivered-id']}", "+", count=1)
        oldest = after[0][0] if after else None
    lag = group.get("lag")
    return {
        "shard": shard,
        "length": length,
        "pending": summary["pending"],
        "undelivered": int(lag) if lag is not None else None,
        "lagSeconds": _age(oldest, time.time()),
    }


async def recorder(r: redis.Redis, keys: Keys) -> RecorderJson:
    shards = await asyncio.gather(*(_shard(r, i, s) for i, s in enumerate(keys.streams())))
    read = [s for s in shards if s is not None]
    return {
        "started": bool(read),
        "lagSeconds": max((s["lagSeconds"] for s in read), default=None),
        "shards": read,
    }
