"""Scenario durability: what the no-loss Redis setting costs. The same csms ingest on a Redis
with `appendfsync everysec` (the default: a machine crash may lose the last second) and on one
with `appendfsync always` (Redis fsyncs before it answers, so before csms acknowledges):
closed-loop rate, and round trips at one fixed rate both can carry. Each server keeps its
append-only file in the data directory, on the disk a deployment would use, not in tmpfs."""

from __future__ import annotations

import shutil
import sys

from bench import procs
from bench.context import Ctx, start_csms
from bench.ingest import _measure, _specs
from bench.stats import percentile
from shared import embedded

MODES = ("everysec", "always")
LOAD = 0.5  # the paced runs: this share of the slower mode's closed-loop rate


def run(ctx: Ctx) -> None:
    conns = 200 if ctx.quick else 1000
    workers = 1 if ctx.quick else 2
    nodes: dict[str, procs.Proc] = {}
    folders = {mode: ctx.settings.data_dir / f"bench-redis-{mode}" for mode in MODES}
    try:
        for mode, folder in folders.items():
            shutil.rmtree(folder, ignore_errors=True)
            url = embedded.start_redis(folder, mode)
            nodes[mode] = start_csms(ctx.on(url, 1), f"bench-dur-{mode}", f"csms-{mode}.log")
        top = {}
        for mode, csms in nodes.items():
            top[mode] = ctx.figure("durability", f"csms closed loop, appendfsync {mode}", "msg/s")
            for n in range(ctx.runs):
                rate, *_ = _measure(
                    csms, _specs(csms.port, conns, workers, f"D{mode}{n}", ctx.seconds)
                )
                top[mode].runs.append(rate)
        paced = LOAD * min(f.median for f in top.values())
        for mode, csms in nodes.items():
            p50 = ctx.figure(
                "durability", f"round trip p50 at {paced:,.0f} msg/s, appendfsync {mode}", "ms"
            )
            p99 = ctx.figure(
                "durability", f"round trip p99 at {paced:,.0f} msg/s, appendfsync {mode}", "ms"
            )
            for n in range(ctx.runs):
                specs = _specs(csms.port, conns, workers, f"P{mode}{n}", ctx.seconds, paced / conns)
                _, _, _, lat, _ = _measure(csms, specs)
                p50.runs.append(percentile(lat, 0.5) / 1e6)
                p99.runs.append(percentile(lat, 0.99) / 1e6)
    finally:
        for csms in nodes.values():
            csms.stop()
        for folder in folders.values():
            embedded.stop_redis(folder)
            shutil.rmtree(folder, ignore_errors=True)
    print(
        f"durability: {conns} connections, {workers} load processes, {ctx.seconds:g} s per run",
        file=sys.stderr,
    )
