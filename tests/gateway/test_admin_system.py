"""GET /admin/system: storage health as readiness computes it, every csms node with the
chargers it holds, and how far the recorders are behind the event stream."""

from __future__ import annotations

import time

import asyncpg
import redis.asyncio as redis

from shared import events as ev
from shared.redis_keys import RECORDER_GROUP, Keys
from shared.settings import Settings
from tests.gateway.support import (
    Gateway,
    MakeCharger,
    MakeGateway,
    Partner,
    admin_headers,
    mark_alive,
    online_state,
)

SYSTEM = "/api/v1/admin/system"


async def test_nodes_with_their_chargers_and_the_recorders_lag(
    make_gateway: MakeGateway,
    charger: MakeCharger,
    rds: redis.Redis,
    pool: asyncpg.Pool,
    settings: Settings,
    uid: str,
) -> None:
    # a Redis prefix of its own: the stream and the nodes are this test's alone
    prefix = f"sys{uid}"
    gw = await make_gateway(redis_prefix=prefix)
    keys = Keys(prefix)
    live, dead = f"live-{uid}", f"dead-{uid}"
    await mark_alive(rds, keys, live, [gw])
    await rds.zadd(keys.nodes, {dead: time.time() - 5})
    for n in range(3):
        cp = await charger(None, f"SYS-{uid}-{n}")
        await rds.hset(keys.charger(cp), mapping=online_state(live if n else dead))

    stream = keys.stream(0)
    old = f"{int((time.time() - 30) * 1000)}-0"
    await rds.xadd(stream, ev.encode({"type": ev.CONNECTION, "cp": "x", "at": 0.0}), id=old)
    await rds.xgroup_create(stream, RECORDER_GROUP, id="0")
    await rds.xadd(stream, ev.encode({"type": ev.CONNECTION, "cp": "y", "at": 0.0}))

    resp = await gw.client.get(SYSTEM, headers=admin_headers())
    assert resp.status == 200
    body = await resp.json()
    assert body["checks"] == {"redis": "ok", "postgresql": "ok"} and body["draining"] is False
    nodes = {n["nodeId"]: n for n in body["nodes"]}
    assert nodes[live]["alive"] and nodes[live]["chargers"] == 2
    assert not nodes[dead]["alive"] and nodes[dead]["chargers"] == 0  # its one counts nowhere
    assert body["chargers"]["online"] == 2 and body["chargers"]["registered"] >= 3
    [shard] = body["recorder"]["shards"]
    assert shard["length"] == 2 and shard["pending"] == 0 and shard["undelivered"] == 2
    assert 25 < shard["lagSeconds"] < 300  # the oldest entry no recorder has read
    assert body["recorder"]["started"] and body["recorder"]["lagSeconds"] == shard["lagSeconds"]

    # a recorder reads and writes both: caught up
    reply = await rds.xreadgroup(RECORDER_GROUP, "r1", {stream: ">"})
    await rds.xack(stream, RECORDER_GROUP, *(entry for entry, _ in reply[0][1]))
    body = await (await gw.client.get(SYSTEM, headers=admin_headers())).json()
    assert body["recorder"]["shards"][0]["lagSeconds"] == 0
    assert body["recorder"]["shards"][0]["undelivered"] == 0


async def test_before_any_recorder_ran(make_gateway: MakeGateway, uid: str) -> None:
    gw = await make_gateway(redis_prefix=f"none{uid}")
    body = await (await gw.client.get(SYSTEM, headers=admin_headers())).json()
    assert body["recorder"] == {"started": False, "lagSeconds": None, "shards": []}
    assert body["nodes"] == []


async def test_only_for_operators(gw: Gateway, partner: Partner) -> None:
    assert (await gw.client.get(SYSTEM)).status == 401
    assert (await gw.client.get(SYSTEM, headers=partner.headers)).status == 403
