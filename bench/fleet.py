"""Scenarios 2 and 3: how many idle chargers one csms process holds and what each costs, and
how fast a fleet that dropped at once is booted and routable again."""

from __future__ import annotations

import resource
import time
from dataclasses import replace
from functools import partial

from bench import procs
from bench.context import Ctx, start_csms
from bench.loadgen import Spec, run_workers
from bench.sampler import Peak
from bench.scrape import gc_seconds, metric_total
from shared.ports import free_port


def raise_fd_limit(wanted: int = 200_000) -> int:
    """As many open files as allowed (root may raise the hard limit); children inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for limit in (wanted, hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, max(limit, hard)))
            return limit
        except (ValueError, OSError):
            continue
    return soft


def _split(template: Spec, total: int, workers: int, tag: str) -> list[Spec]:
    """The template's load spread over worker processes, each from its own source address."""
    per = total // workers
    return [
        replace(
            template,
            charger_ids=[f"{tag}-{w}-{i}" for i in range(per)],
            source_ip=f"127.0.0.{10 + w}",
        )
        for w in range(workers)
    ]


def capacity(ctx: Ctx) -> None:
    limit = raise_fd_limit()
    total = 500 if ctx.quick else min(50_000, limit - 1_000)
    workers = 1 if ctx.quick else 4
    held = ctx.figure(
        "capacity", "idle chargers held by one csms process", "connections", ">= 50,000"
    )
    per_conn = ctx.figure("capacity", "memory per connection", "KiB", "<= 20")
    rate = ctx.figure("capacity", "connect + boot rate", "chargers/s")
    for n in range(ctx.runs):
        csms = start_csms(ctx, f"cap{n}", f"cap{n}.log")
        try:
            time.sleep(0.5)
            rss0 = procs.rss_bytes(csms.pid)
            template = Spec(
                "127.0.0.1",
                csms.port,
                [],
                hold_only=True,
                duration=1.0 if ctx.quick else 3.0,
                concurrency=500,
            )
            with Peak(partial(procs.rss_bytes, csms.pid), 0.2) as rss:
                results = run_workers(_split(template, total, workers, f"K{n}"))
            connected = sum(r.connected for r in results)
            held.runs.append(connected)
            per_conn.runs.append((rss.peak - rss0) / max(1, connected) / 1024)
            rate.runs.append(connected / max(r.connect_seconds for r in results))
        finally:
            csms.stop()
    ctx.notes.append(f"capacity: tried {total} connections; open-file limit {limit}")


def storm(ctx: Ctx) -> None:
    limit = raise_fd_limit()
    total = 300 if ctx.quick else min(20_000, limit - 1_000)
    loaders = 1 if ctx.quick else 4
    for workers, name, target in (
        (1, f"{total:,} chargers back, booted and routable", ""),
        (2, f"{total:,} chargers back, booted and routable, --workers 2", "< 10"),
    ):
        back = ctx.figure("storm", name, "s", target)
        lost = ctx.figure("storm", f"chargers not back, {workers} csms worker(s)", "chargers", "0")
        stopped = ctx.figure(
            "storm", f"csms stopped for garbage collection per storm, {workers} worker(s)", "ms"
        )
        ops = free_port()
        ports = [ops + i for i in range(workers)]
        csms = start_csms(
            ctx, f"storm{workers}", f"storm{workers}.log", workers=workers, EVCS_OPS_PORT=str(ops)
        )
        try:
            for n in range(ctx.runs):
                before = [gc_seconds(port) for port in ports]
                template = Spec("127.0.0.1", csms.port, [], storm=True, concurrency=1000)
                results = run_workers(_split(template, total, loaders, f"S{workers}-{n}"))
                back.runs.append(max(r.reconnect_seconds for r in results))
                lost.runs.append(sum(r.connected - r.reconnected for r in results))
                _drained(ports)
                stopped.runs.append(
                    1000 * max(gc_seconds(p) - b for p, b in zip(ports, before, strict=True))
                )
        finally:
            csms.stop()
    ctx.notes.append(
        "storm: a run connects and boots every charger, drops them all, waits until all are back"
        " and closes them; the csms's stop for garbage collection is the total of the worker"
        " that stopped longest (evcs_gc_pause_seconds), from the run's start until none holds a"
        " connection"
    )


def _drained(ports: list[int], timeout: float = 60.0) -> None:
    """Wait until the workers hold no connection: the last close of a run is theirs to free."""
    deadline = time.monotonic() + timeout
    while any(metric_total(port, "evcs_csms_connections{") for port in ports):
        if time.monotonic() > deadline:
            raise RuntimeError("storm: the csms still holds connections a minute after the run")
        time.sleep(0.1)
