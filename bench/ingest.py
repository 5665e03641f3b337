"""Scenario 1, ingest: chargers sending StatusNotification and MeterValues as fast as the csms
answers, against the bare WebSocket echo ceiling measured in the same run; then latency at
50% and 90% of the maximum rate, and a sweep of offered loads for the latency chart."""

from __future__ import annotations

import sys
from dataclasses import replace

import redis

from bench import procs
from bench.context import Ctx, start_csms
from bench.loadgen import Result, Spec, run_workers
from bench.stats import Figure, percentile
from shared.ports import free_port
from shared.redis_client import connect_sync

# The offered-load sweep, as fractions of the measured maximum; --quick only proves it runs.
SWEEP = (0.1, 0.3, 0.5, 0.7, 0.9, 1.0)
QUICK_SWEEP = (0.5, 1.0)
Curve = dict[str, list[float]]


def _specs(
    port: int,
    conns: int,
    workers: int,
    tag: str,
    seconds: float,
    rate: float | None = None,
    fresh_samples: int = 0,
) -> list[Spec]:
    per = conns // workers
    return [
        Spec(
            "127.0.0.1",
            port,
            [f"{tag}-{w}-{i}" for i in range(per)],
            source_ip=f"127.0.0.{2 + w}",
            duration=seconds,
            warmup=0.5,
            rate_per_conn=rate,
            fresh_samples=fresh_samples,
        )
        for w in range(workers)
    ]


def _measure(
    proc: procs.Proc, specs: list[Spec], redis_url: str | None = None
) -> tuple[float, float, float, list[int], int]:
    """(answered/s, answered per CPU second of the server, redis CPU s/s, latencies, errors)."""
    r = connect_sync(redis_url) if redis_url else None
    redis_cpu0 = _redis_cpu(r)
    cpu0 = procs.cpu_seconds(proc.pid)
    results: list[Result] = run_workers(specs)
    cpu = procs.cpu_seconds(proc.pid) - cpu0
    redis_cpu = _redis_cpu(r) - redis_cpu0
    answered = sum(x.answered for x in results)
    seconds = max(x.seconds for x in results) or 1.0
    # CPU is read around the whole worker run (connect + warmup too); scale to the measured part
    total = sum(x.seconds for x in results) / len(results) + specs[0].warmup
    lat = sorted(v for x in results for v in x.latencies_ns)
    errors = sum(x.errors for x in results)
    per_cpu = answered / (cpu * seconds / total) if cpu else float("nan")
    return answered / seconds, per_cpu, redis_cpu / total, lat, errors


def sweep_steps(ctx: Ctx) -> tuple[tuple[float, ...], float, float]:
    """(fractions of the maximum, seconds per step, warmup seconds) for an offered-load sweep."""
    # short steps: the sweep draws a curve; the figures with targets come from the longer runs
    return (QUICK_SWEEP, 0.3, 0.2) if ctx.quick else (SWEEP, 2.0, 0.5)


def new_curve() -> Curve:
    """An empty latency-against-load series (the format bench/charts.py draws)."""
    return {k: [] for k in ("offered", "achieved", "p50_ms", "p95_ms", "p99_ms")}


def add_point(curve: Curve, offered: float, achieved: float, lat_ns: list[int]) -> None:
    """One step of a sweep: rates per second and percentiles of sorted latencies."""
    curve["offered"].append(round(offered, 1))
    curve["achieved"].append(round(achieved, 1))
    for q in (50, 95, 99):
        curve[f"p{q}_ms"].append(round(percentile(lat_ns, q / 100) / 1e6, 3))


def _sweep(ctx: Ctx, csms: procs.Proc, conns: int, workers: int, top: float) -> tuple[Curve, int]:
    """Paced steps at fractions of the closed-loop maximum: (curve, CALLERRORs)."""
    loads, secs, warmup = sweep_steps(ctx)
    curve, errors = new_curve(), 0
    for i, load in enumerate(loads):
        specs = _specs(csms.port, conns, workers, f"S{i}", secs, load * top / conns)
        got, _, _, lat, err = _measure(csms, [replace(s, warmup=warmup) for s in specs])
        add_point(curve, load * top, got, lat)
        errors += err
    return curve, errors


def _redis_cpu(r: redis.Redis | None) -> float:
    if r is None:
        return 0.0
    info = r.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def _echo_ceiling(ctx: Ctx, impl: str, metric: str, conns: int, workers: int) -> Figure:
    """The closed-loop rate of a bare echo server (bench.echo's `impl`) under the same load."""
    port = free_port()
    echo = procs.start(
        "echo", ["bench.echo", str(port), impl], ctx.env(), port, ctx.logs / f"echo-{impl}.log"
    )
    ceiling = ctx.figure("ingest", metric, "msg/s")
    try:
        for n in range(ctx.runs):
            rate, *_ = _measure(echo, _specs(port, conns, workers, f"E{impl[0]}{n}", ctx.seconds))
            ceiling.runs.append(rate)
    finally:
        echo.stop()
    return ceiling


def run(ctx: Ctx) -> None:
    conns = 200 if ctx.quick else 1000
    workers = 1 if ctx.quick else 2
    secs = ctx.seconds
    # the csms's own transport echoing: what the csms's work per message is measured against
    ceiling = _echo_ceiling(ctx, "csms", "echo ceiling (the csms's transport)", conns, workers)
    # websockets' asyncio server, which the csms ran on until the transport replaced it
    _echo_ceiling(ctx, "websockets", "echo ceiling (websockets asyncio server)", conns, workers)

    csms = start_csms(ctx, "bench-csms", "csms.log")
    port = csms.port
    top = ctx.figure("ingest", "csms, closed loop", "msg/s")
    per_core = ctx.figure("ingest", "csms per core", "msg/s per core", ">= 10,000")
    ratio = ctx.figure("ingest", "csms / echo ceiling", "%", ">= 60%")
    redis_cpu = ctx.figure("ingest", "redis CPU at max", "cores")
    errors = 0
    try:
        for n in range(ctx.runs):
            rate, pc, rc, _, err = _measure(
                csms, _specs(port, conns, workers, f"C{n}", secs), ctx.settings.redis_url
            )
            top.runs.append(rate)
            per_core.runs.append(pc)
            redis_cpu.runs.append(rc)
            ratio.runs.append(100 * rate / ceiling.median)
            errors += err
        # a realistic fleet: 200 chargers, one CALL in flight each, every frame new
        for samples in (1, 10):
            cost = ctx.figure(
                "ingest",
                f"csms CPU per MeterValues, 200 chargers, fresh frames, {samples} sampled",
                "µs",
                "<= 100",
            )
            for n in range(ctx.runs):
                _, pc, _, _, err = _measure(
                    csms, _specs(port, 200, workers, f"F{samples}-{n}", secs, None, samples)
                )
                cost.runs.append(1e6 / pc)
                errors += err
        for load in (0.5, 0.9):
            p50 = ctx.figure("ingest", f"round trip p50 at {load:.0%}", "ms")
            p95 = ctx.figure("ingest", f"round trip p95 at {load:.0%}", "ms")
            p99 = ctx.figure(
                "ingest", f"round trip p99 at {load:.0%}", "ms", "< 20" if load == 0.5 else ""
            )
            achieved = ctx.figure("ingest", f"achieved rate at {load:.0%}", "msg/s")
            for n in range(ctx.runs):
                per_conn = load * top.median / conns
                got, _, _, lat, err = _measure(
                    csms, _specs(port, conns, workers, f"L{n}", secs, per_conn)
                )
                achieved.runs.append(got)
                p50.runs.append(percentile(lat, 0.5) / 1e6)
                p95.runs.append(percentile(lat, 0.95) / 1e6)
                p99.runs.append(percentile(lat, 0.99) / 1e6)
                errors += err
        if top.median > 0:  # NaN or 0 when nothing was answered: no rate to sweep
            curve, err = _sweep(ctx, csms, conns, workers, top.median)
            ctx.series["ingest-latency"] = curve
            errors += err
            ctx.notes.append(
                f"ingest: the latency chart is one sweep after the runs, "
                f"{sweep_steps(ctx)[1]:g} s per step, paced at fractions of the closed-loop median"
            )
    finally:
        csms.stop()
    if errors:
        ctx.notes.append(f"ingest: {errors} CALLERRORs answered during the runs")
    print(
        f"ingest: {conns} connections, {workers} load processes, {secs:.0f} s per run",
        file=sys.stderr,
    )
