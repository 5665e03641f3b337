"""Scenario 8, projection: from the measured per-core figures, what 1,000,000 chargers sending
one message per second need in csms, gateway, Redis and PostgreSQL capacity. A figure this
invocation did not measure is taken from the published results (bench/results)."""

from __future__ import annotations

import math
from functools import cache
from typing import Any

from bench.charts import latest_figures, load_runs
from bench.context import RESULTS, Ctx

CHARGERS = 1_000_000
ROWS_PER_MESSAGE = 1.5  # a MeterValues message with energy and power is two rows, a status one


def _median(ctx: Ctx, metric: str) -> float | None:
    for f in ctx.figures:
        if f.metric == metric and f.runs:
            return f.median
    for p in _published():
        if p["metric"] == metric and p["runs"]:
            return float(p["median"])
    return None


@cache
def _published() -> list[dict[str, Any]]:
    return latest_figures(load_runs(RESULTS))


def run(ctx: Ctx) -> None:
    rate = float(CHARGERS)  # messages per second
    lines = [f"For {CHARGERS:,} chargers at one message per second ({rate:,.0f} msg/s):"]
    # a million chargers need a Redis Cluster: the csms's CPU per message on one, if measured
    on_cluster = _median(ctx, "csms CPU per message, cluster, 3 primaries")
    per_core = 1e6 / on_cluster if on_cluster else _median(ctx, "csms per core")
    if per_core:
        cores = math.ceil(rate / per_core)
        basis = (
            f"{on_cluster:.1f} µs of csms CPU per message on a 3-primary cluster (the cluster"
            " scenario)"
            if on_cluster
            else f"{per_core:,.0f} msg/s per core"
        )
        lines.append(
            f"- csms: {basis} -> {cores} cores, e.g. {math.ceil(cores / 8)} "
            f"nodes of 8 workers, {CHARGERS / max(1, cores):,.0f} connections per core"
        )
        ctx.figure("projection", "csms cores for 1M chargers", "cores").runs.append(cores)
    redis_cpu = _median(ctx, "redis CPU at max")
    top = _median(ctx, "csms, closed loop")
    primaries = _median(ctx, "Redis primaries for 1M chargers (measured per shard)")
    if primaries:
        lines.append(
            f"- Redis: {primaries:.0f} primaries of a Redis Cluster, from the Redis CPU per "
            "message measured on a 3-primary cluster (the cluster scenario), each primary "
            "planned at 70% of a core; stream shards as many as primaries"
        )
        ctx.figure("projection", "Redis primaries for 1M chargers", "shards").runs.append(primaries)
    elif redis_cpu and top:
        redis_cores = math.ceil(rate * redis_cpu / top)
        lines.append(
            f"- Redis: {redis_cpu / top * 1e6:,.1f} µs of Redis CPU per message -> {redis_cores} "
            "cores, i.e. a Redis Cluster of that many primaries (keys carry hash tags; "
            "EVCS_STREAM_SHARDS spreads the event stream over the shards)"
        )
        ctx.figure("projection", "Redis primaries for 1M chargers", "shards").runs.append(
            redis_cores
        )
    two = _median(ctx, "rows written, 2 recorders on 2 shards")
    rows = two / 2 if two else _median(ctx, "rows written from a filled stream, 1 recorder")
    if rows:
        recorders = math.ceil(rate * ROWS_PER_MESSAGE / rows)
        lines.append(
            f"- PostgreSQL: {rate * ROWS_PER_MESSAGE:,.0f} rows/s; one recorder writes {rows:,.0f} "
            f"rows/s -> {recorders} recorders, and a PostgreSQL that takes that write rate: "
            "time-partitioned tables on TimescaleDB or Citus, or sampled history "
            "(store meter values every N seconds) where one server is not enough"
        )
        ctx.figure("projection", "recorders for 1M chargers", "processes").runs.append(recorders)
    reads = _median(ctx, "single: requests/s per gateway core")
    if reads:
        lines.append(
            f"- gateway: {reads:,.0f} status reads/s per core; 10 partners at their default "
            "limit (1,000 requests/hour each) need a fraction of one core; batch reads "
            "of 1,000 chargers cover a partner's whole fleet in 1,000 requests"
        )
    ctx.notes.extend(lines)
