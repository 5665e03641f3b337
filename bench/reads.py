"""Scenario 4, partner reads: single and batch (100, 1000) status reads from 10 partners
against one gateway process; requests/s per gateway core and latency percentiles; a sweep of
offered loads of single reads for the latency chart."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from itertools import chain

import orjson

from bench import procs
from bench.context import Ctx, start_gateway
from bench.httpload import HttpResult, HttpSpec, _Client, get, run_http
from bench.ingest import Curve, add_point, new_curve, sweep_steps
from bench.stats import percentile
from bench.workers import run_in_processes
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


async def seed(
    ctx: Ctx, partners: int, per_partner: int, tag: str = ""
) -> dict[str, tuple[str, list[str]]]:
    """Partners with a key each and chargers with a fresh state; bulk-loaded, not one by one.
    `tag` keeps their ids apart from another seeding's of the same run."""
    s = ctx.settings
    assert s.database_url and s.redis_url
    pool = await db.create_pool(s.database_url, max_size=2)
    r = await connect(s.redis_url, mode=s.redis_mode)
    keys = Keys.of(s)
    out: dict[str, tuple[str, list[str]]] = {}
    try:
        for p in range(partners):
            pid = f"{s.redis_prefix}{tag}-p{p}"
            await registry.create_partner(pool, pid, partner_id=pid)
            _, key = await registry.issue_api_key(pool, pid, actor="bench")
            ids = [f"{s.redis_prefix}{tag}-{p}-{i}" for i in range(per_partner)]
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


class _PacedClient(_Client):
    """A keep-alive connection that sends when the ticker says so, not on every answer."""

    def __init__(self, spec: HttpSpec, result: HttpResult, offset: int) -> None:
        super().__init__(spec, result, offset)
        self.running = False  # _Client sends again on an answer only while running
        self.busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self) -> None:
        self.busy = True
        super().send()

    def data_received(self, data: bytes) -> None:
        before = self.result.answered
        super().data_received(data)
        if self.result.answered != before:  # one request in flight: this was its answer
            self.busy = False


@dataclass
class PacedSpec:
    http: HttpSpec
    rates_per_conn: list[float]  # one step each, on the same connections


async def _paced(spec: PacedSpec) -> list[HttpResult]:
    """One result per step: each connection sends every 1/rate seconds unless its last request
    is unanswered (as the WebSocket load generator paces chargers); latency from the send."""
    http = spec.http
    loop = asyncio.get_running_loop()
    clients: list[_PacedClient] = []
    for n in range(http.connections):
        _, c = await loop.create_connection(
            partial(_PacedClient, http, HttpResult(), n), http.host, http.port
        )
        clients.append(c)
    # one process and one set of connections for the whole sweep: no start-up cost per step
    out = [await _step(clients, http, 1.0 / rate) for rate in spec.rates_per_conn]
    await asyncio.sleep(0.2)  # answers in flight arrive before the connections close
    for c in clients:
        if c.transport is not None:
            c.transport.close()
    return out


async def _step(clients: list[_PacedClient], http: HttpSpec, interval: float) -> HttpResult:
    """One paced step: the warmup, then `http.duration` seconds measured."""
    loop = asyncio.get_running_loop()
    result = HttpResult()
    for c in clients:
        c.result = result  # answers to the last step's requests land in this warmup
    start = loop.time()
    due = [start + random.random() * interval for _ in clients]
    measure_from, reset = start + http.warmup, False
    while (now := loop.time()) < measure_from + http.duration:
        if not reset and now >= measure_from:
            result.answered, result.non_2xx, result.latencies_ns, reset = 0, 0, [], True
        for i, c in enumerate(clients):
            if due[i] <= now and not c.busy:
                c.send()
                due[i] += interval
                if due[i] < now:  # fell behind: skip, do not burst
                    due[i] = now + interval
        await asyncio.sleep(0.001)
    result.seconds = loop.time() - measure_from
    return result


def _sweep(ctx: Ctx, port: int, per_proc: list[list[bytes]], top: float) -> tuple[Curve, int]:
    """Single reads paced at fractions of the saturation rate: (curve, non-2xx)."""
    loads, secs, warmup = sweep_steps(ctx)
    conns = 20
    rates = [load * top / (conns * len(per_proc)) for load in loads]
    specs = [
        PacedSpec(HttpSpec("127.0.0.1", port, reqs, conns, secs, warmup), rates)
        for reqs in per_proc
    ]
    per_process = run_in_processes(_paced, specs, len(loads) * (secs + warmup) + 60)
    curve, bad = new_curve(), 0
    for load, step in zip(loads, zip(*per_process, strict=True), strict=True):
        lat = sorted(v for r in step for v in r.latencies_ns)
        achieved = sum(r.answered for r in step) / max(r.seconds for r in step)
        add_point(curve, load * top, achieved, lat)
        bad += sum(r.non_2xx for r in step)
    return curve, bad


def run(ctx: Ctx, scenario: str = "reads", where: str = "", tag: str = "") -> None:
    """Status reads, single and in batches, at saturation and with 4 in flight; `where` names
    the Redis (a cluster's) in each metric, and only the reads scenario draws the sweep."""
    per_partner = 1_000 if ctx.quick else 10_000  # batch reads take up to 1,000 ids
    fleet = asyncio.run(seed(ctx, 10, per_partner, tag))
    gw = start_gateway(ctx, f"gateway{tag}.log")
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
    if scenario != "reads":  # the targets are the reads scenario's; elsewhere, for comparison
        targets = {shape: ("", "") for shape in targets}
    try:
        for shape, build in shapes.items():
            rps = ctx.figure(scenario, f"{shape}: requests/s at saturation{where}", "req/s")
            core = ctx.figure(
                scenario,
                f"{shape}: requests/s per gateway core{where}",
                "req/s",
                targets[shape][0],
            )
            p50 = ctx.figure(scenario, f"{shape}: p50, 4 requests in flight{where}", "ms")
            p95 = ctx.figure(
                scenario, f"{shape}: p95, 4 requests in flight{where}", "ms", targets[shape][1]
            )
            p99 = ctx.figure(scenario, f"{shape}: p99, 4 requests in flight{where}", "ms")
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
                ctx.notes.append(f"{scenario}/{shape}{where}: {bad} answers were not 2xx")
            if (
                scenario == "reads" and shape == "single" and rps.median > 0
            ):  # NaN or 0: nothing answered, no rate
                curve, bad = _sweep(ctx, port, per_proc, rps.median)
                ctx.series["reads-latency"] = curve
                if bad:
                    ctx.notes.append(f"reads/sweep: {bad} answers were not 2xx")
                ctx.notes.append(
                    f"reads: the latency chart is one sweep of single reads after their runs, "
                    f"{sweep_steps(ctx)[1]:g} s per step, paced at fractions of the saturated rate"
                )
    finally:
        gw.stop()
