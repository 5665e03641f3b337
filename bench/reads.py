"""Scenario 4, partner reads: single and batch (100, 1000) status reads from 10 partners
against one gateway process; requests/s per gateway core and latency percentiles."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from itertools import chain

import orjson

from bench import procs
from bench.context import Ctx, start_gateway
from bench.httpload import HttpSpec, get, run_http
from bench.stats import percentile
from shared import db, registry
from shared.redis_client import connect
from shared.redis_keys import F, Keys

BENCH_NODE = "bench-node"


def online_state() -> dict[str, str]:
    """A seeded charger's hash fields: Available, online on the bench node, seen for an hour."""
    return {
        F.RAW + "1": "Available",
        F.SEEN: repr(time.time() + 3600),  # stays "seen" through the whole run
        F.ONLINE: "1",
        F.NODE: BENCH_NODE,
        F.PROTOCOL: "ocpp1.6",
    }


async def seed(ctx: Ctx, partners: int, per_partner: int) -> dict[str, tuple[str, list[str]]]:
    """Partners with a key each and chargers with a fresh state; bulk-loaded, not one by one."""
    s = ctx.settings
    assert s.database_url and s.redis_url
    pool = await db.create_pool(s.database_url, max_size=2)
    r = await connect(s.redis_url, mode=s.redis_mode)
    keys = Keys.of(s)
    out: dict[str, tuple[str, list[str]]] = {}
    try:
        for p in range(partners):
            pid = f"{s.redis_prefix}-p{p}"
            await registry.create_partner(pool, pid, partner_id=pid)
            _, key = await registry.issue_api_key(pool, pid, actor="bench")
            ids = [f"{s.redis_prefix}-{p}-{i}" for i in range(per_partner)]
            await pool.copy_records_to_table(
                "chargers",
                records=[(cp, pid, "ocpp1.6") for cp in ids],
                columns=["id", "partner_id", "protocol"],
            )
            out[pid] = (key, ids)
        await registry.sync_chargers(pool, r, keys)
        state = online_state()
        pipe = r.pipeline(transaction=False)
        for _, ids in out.values():
            for cp in ids:
                pipe.hset(keys.charger(cp), mapping=state)
            await pipe.execute()
        await r.zadd(keys.nodes, {BENCH_NODE: time.time() + 86400})
    finally:
        await pool.close()
        await r.aclose()
    return out


def _post(path: str, host: str, key: str, body: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nx-api-key: {key}\r\n"
        f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    ).encode() + body


def run(ctx: Ctx) -> None:
    per_partner = 1_000 if ctx.quick else 10_000  # batch reads take up to 1,000 ids
    fleet = asyncio.run(seed(ctx, 10, per_partner))
    gw = start_gateway(ctx, "gateway.log")
    port = gw.port
    host = f"127.0.0.1:{port}"
    base = "/api/v1/chargers"

    def single(key: str, ids: list[str]) -> list[bytes]:
        return [get(f"{base}/{cp}/status", host, key) for cp in ids[:500]]

    def batch100(key: str, ids: list[str]) -> list[bytes]:
        return [
            get(f"{base}/batch/status?ids={','.join(ids[i : i + 100])}", host, key)
            for i in range(0, 500, 100)
        ]

    def batch1000(key: str, ids: list[str]) -> list[bytes]:
        return [_post(f"{base}/batch/status", host, key, orjson.dumps({"ids": ids[:1000]}))]

    shapes: dict[str, Callable[[str, list[str]], list[bytes]]] = {
        "single": single,
        "batch of 100": batch100,
        "batch of 1000": batch1000,
    }
    targets = {
        "single": ("per core >= 5,000", "< 10"),
        "batch of 100": ("", "< 20"),
        "batch of 1000": ("", ""),
    }
    try:
        for shape, build in shapes.items():
            rps = ctx.figure("reads", f"{shape}: requests/s at saturation", "req/s")
            core = ctx.figure(
                "reads", f"{shape}: requests/s per gateway core", "req/s", targets[shape][0]
            )
            p50 = ctx.figure("reads", f"{shape}: p50, 4 requests in flight", "ms")
            p95 = ctx.figure(
                "reads", f"{shape}: p95, 4 requests in flight", "ms", targets[shape][1]
            )
            p99 = ctx.figure("reads", f"{shape}: p99, 4 requests in flight", "ms")
            bad = 0
            for _ in range(ctx.runs):
                # 10 partners' requests in 2 load processes; 40 connections saturate the gateway
                requests = [build(*fleet[pid]) for pid in fleet]
                per_proc = [list(chain.from_iterable(requests[i::2])) for i in range(2)]
                cpu0 = procs.cpu_seconds(gw.pid)
                results = run_http(
                    [
                        HttpSpec("127.0.0.1", port, reqs, connections=20, duration=ctx.seconds)
                        for reqs in per_proc
                    ]
                )
                cpu = procs.cpu_seconds(gw.pid) - cpu0
                answered = sum(r.answered for r in results)
                seconds = max(r.seconds for r in results)
                rps.runs.append(answered / seconds)
                total = seconds + 0.7  # warmup and drain are inside the CPU reading too
                core.runs.append(answered / (cpu * seconds / total) if cpu else float("nan"))
                bad += sum(r.non_2xx for r in results)
                # latency with a few requests in flight: service time, not queueing at saturation
                results = run_http(
                    [
                        HttpSpec("127.0.0.1", port, reqs, connections=2, duration=ctx.seconds)
                        for reqs in per_proc
                    ]
                )
                lat = sorted(v for r in results for v in r.latencies_ns)
                p50.runs.append(percentile(lat, 0.5) / 1e6)
                p95.runs.append(percentile(lat, 0.95) / 1e6)
                p99.runs.append(percentile(lat, 0.99) / 1e6)
                bad += sum(r.non_2xx for r in results)
            if bad:
                ctx.notes.append(f"reads/{shape}: {bad} answers were not 2xx")
    finally:
        gw.stop()
