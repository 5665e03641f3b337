"""Scenario 7, registry at scale: a million chargers bulk-registered, what they cost in Redis
and PostgreSQL, and whether a status read is still as fast."""

from __future__ import annotations

import asyncio
import time

from bench.context import Ctx, start_gateway
from bench.httpload import HttpSpec, get, run_http
from bench.reads import BENCH_NODE, online_state
from bench.stats import percentile
from shared import db, registry
from shared.redis_client import connect, connect_sync
from shared.redis_keys import Keys


async def _import(ctx: Ctx, partner: str, count: int) -> tuple[str, float, float]:
    """Bulk-register `count` chargers for a new partner; (its key, PG seconds, Redis seconds)."""
    s = ctx.settings
    assert s.database_url and s.redis_url
    pool = await db.create_pool(s.database_url, max_size=2)
    r = await connect(s.redis_url, mode=s.redis_mode)
    keys = Keys.of(s)
    try:
        await registry.create_partner(pool, partner, partner_id=partner)
        _, key = await registry.issue_api_key(pool, partner, actor="bench")
        t0 = time.monotonic()
        batch = 100_000
        for start in range(0, count, batch):
            await pool.copy_records_to_table(
                "chargers",
                columns=["id", "partner_id", "protocol"],
                records=[
                    (f"{partner}-{i}", partner, "ocpp1.6")
                    for i in range(start, min(count, start + batch))
                ],
            )
        pg_seconds = time.monotonic() - t0
        t0 = time.monotonic()
        await registry.sync_chargers(pool, r, keys)
        state = online_state()
        pipe = r.pipeline(transaction=False)
        for i in range(count):
            pipe.hset(keys.charger(f"{partner}-{i}"), mapping=state)
            if i % 10_000 == 9_999:
                await pipe.execute()
        await pipe.execute()
        await r.zadd(keys.nodes, {BENCH_NODE: time.time() + 86400})
        return key, pg_seconds, time.monotonic() - t0
    finally:
        await pool.close()
        await r.aclose()


def _read_latency(ctx: Ctx, port: int, key: str, ids: list[str]) -> tuple[float, float]:
    host = f"127.0.0.1:{port}"
    requests = [get(f"/api/v1/chargers/{cp}/status", host, key) for cp in ids]
    results = run_http([HttpSpec("127.0.0.1", port, requests, connections=2, duration=ctx.seconds)])
    lat = sorted(v for res in results for v in res.latencies_ns)
    return percentile(lat, 0.5) / 1e6, percentile(lat, 0.95) / 1e6


def run(ctx: Ctx) -> None:
    count = 5_000 if ctx.quick else 1_000_000
    r = connect_sync(str(ctx.settings.redis_url))
    mem0 = int(r.info("memory")["used_memory"])
    table0 = asyncio.run(_table_bytes(ctx))
    partner = f"{ctx.settings.redis_prefix}-reg"
    key, pg_s, redis_s = asyncio.run(_import(ctx, partner, count))
    mem = (int(r.info("memory")["used_memory"]) - mem0) / count
    pg_bytes = (asyncio.run(_table_bytes(ctx)) - table0) / count
    ctx.figure(
        "registry", f"bulk import of {count:,} chargers into PostgreSQL", "chargers/s"
    ).runs.append(count / pg_s)
    ctx.figure("registry", "projection into Redis", "chargers/s").runs.append(count / redis_s)
    ctx.figure("registry", "Redis memory per charger", "bytes").runs.append(mem)
    ctx.figure("registry", "PostgreSQL chargers table + index per charger", "bytes").runs.append(
        pg_bytes
    )
    gw = start_gateway(ctx, "gateway-registry.log")
    port = gw.port
    p50 = ctx.figure("registry", f"status read p50 with {count:,} chargers", "ms")
    p95 = ctx.figure("registry", f"status read p95 with {count:,} chargers", "ms", "< 10")
    try:
        ids = [f"{partner}-{i}" for i in range(0, count, max(1, count // 500))]
        for _ in range(ctx.runs):
            a, b = _read_latency(ctx, port, key, ids)
            p50.runs.append(a)
            p95.runs.append(b)
    finally:
        gw.stop()


async def _table_bytes(ctx: Ctx) -> int:
    import asyncpg

    conn = await asyncpg.connect(str(ctx.settings.database_url))
    try:
        return int(await conn.fetchval("SELECT pg_total_relation_size('chargers')"))
    finally:
        await conn.close()
