"""`evcs bench fleet`: 100,000 chargers connected at once to one machine, each on a public
fleet's duty (a StatusNotification a minute, MeterValues every 30 s), through a csms restart.

The csms runs as many worker processes as keep each under the open-file limit, and so do the
load generators, each from its own loopback address (one source address has ~28,000 ports
towards one server port). A recorder drains the streams into PostgreSQL as in production.
What is published: the csms's memory and CPU, the answers' latency, and how long the whole
fleet takes to be back after the csms restarts.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import os
import random
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import orjson

from bench import procs
from bench.context import Ctx, start_csms
from bench.fleet import raise_fd_limit
from bench.loadgen import BOOT, FreshMeter
from bench.scrape import gc_seconds, metric_total
from bench.stats import Figure, percentile
from bench.workers import run_in_processes
from bench.wsclient import FrameCounter, masked_text_frame, now_ns, open_ws
from shared.ports import free_port

FLEET = 100_000
PER_PROCESS = 15_000  # connections per process, under the 20,000 open files allowed here


@dataclass
class DutySpec:
    host: str
    port: int
    charger_ids: list[str]
    source_ip: str
    stop_file: str
    count_file: str  # how many of its chargers are connected and booted, rewritten twice a second
    meter_every: float = 30.0
    status_every: float = 60.0
    concurrency: int = 200  # handshakes in flight per process
    backoff: float = 1.0  # a dropped charger waits up to this long (uniformly) to reconnect
    bucket: int = 5  # seconds per point of the latency curve


@dataclass
class DutyResult:
    connected: int = 0
    reconnects: int = 0
    refused: int = 0
    answered: int = 0
    errors: int = 0
    # wall-clock bucket (time // bucket) -> round trips in ns: the parent lines them up
    latencies: dict[int, list[int]] = field(default_factory=dict)


class _Charger:
    __slots__ = ("busy", "charger_id", "meter", "online", "proto", "sent_at", "waiter")

    def __init__(self, charger_id: str) -> None:
        self.charger_id = charger_id
        self.meter = FreshMeter(charger_id, 4)
        self.proto: FrameCounter | None = None
        self.online = False
        self.busy = False
        self.sent_at = 0
        self.waiter: asyncio.Future[None] | None = None


def _status_frame(charger_id: str, n: int) -> bytes:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    payload = {"connectorId": 1, "errorCode": "NoError", "status": "Available", "timestamp": now}
    return masked_text_frame(orjson.dumps([2, f"{charger_id}-s{n}", "StatusNotification", payload]))


async def _drive(spec: DutySpec) -> DutyResult:
    """Keep every charger connected and on duty until the stop file appears."""
    result = DutyResult()
    chargers = [_Charger(cid) for cid in spec.charger_ids]
    sem = asyncio.Semaphore(spec.concurrency)
    stop = Path(spec.stop_file)
    online = 0
    boot = masked_text_frame(orjson.dumps([2, "boot", "BootNotification", BOOT]))
    stopping = False

    def on_frame(c: _Charger, data: bytes) -> None:
        if data[1:2] == b"2":
            return  # a CALL from the csms; nothing in this duty needs answering
        waiter = c.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
            return
        if c.busy:
            c.busy = False
            result.answered += 1
            if data[1:2] == b"4":
                result.errors += 1
            bucket = int(time.time()) // spec.bucket
            result.latencies.setdefault(bucket, []).append(now_ns() - c.sent_at)

    async def connect(c: _Charger) -> bool:
        loop = asyncio.get_running_loop()
        async with sem:
            try:
                c.proto = await open_ws(
                    spec.host,
                    spec.port,
                    f"/ocpp/{c.charger_id}",
                    "ocpp1.6",
                    lambda data: on_frame(c, data),
                    (spec.source_ip, 0),
                )
                c.waiter = loop.create_future()
                assert c.proto.transport is not None
                c.proto.transport.write(boot)
                await asyncio.wait_for(c.waiter, 30)
                c.waiter = None
                return True
            except (OSError, TimeoutError, ConnectionError):
                if c.proto is not None and c.proto.transport is not None:
                    c.proto.transport.close()
                result.refused += 1
                return False

    async def keep_connected(c: _Charger) -> None:
        nonlocal online
        first = True
        while not stopping:
            if not await connect(c):
                await asyncio.sleep(random.uniform(0.5, 1.5) * spec.backoff)
                continue
            c.online, c.busy = True, False
            online += 1
            if first:
                result.connected += 1
                first = False
            assert c.proto is not None
            await c.proto.closed
            c.online = False
            online -= 1
            if stopping:
                return
            result.reconnects += 1
            await asyncio.sleep(random.uniform(0, spec.backoff))

    tasks = [asyncio.create_task(keep_connected(c)) for c in chargers]
    loop = asyncio.get_running_loop()
    start = loop.time()
    # (due, index, is_meter): each charger's two duties, started at a random phase
    due = [(start + random.random() * spec.meter_every, i, True) for i in range(len(chargers))]
    due += [(start + random.random() * spec.status_every, i, False) for i in range(len(chargers))]
    heapq.heapify(due)
    statuses = 0
    checked = start
    while True:
        now = loop.time()
        if now - checked >= 0.5:
            checked = now
            if stop.exists():  # noqa: ASYNC240 (a stat twice a second)
                break
            _write_count(spec.count_file, online)
        while due and due[0][0] <= now:
            at, i, is_meter = heapq.heappop(due)
            c = chargers[i]
            transport = c.proto.transport if c.proto is not None else None
            every = spec.meter_every if is_meter else spec.status_every
            if not c.online or transport is None or transport.is_closing():
                heapq.heappush(due, (now + every, i, is_meter))  # offline: its next turn
                continue
            if c.busy:
                heapq.heappush(due, (now + 0.2, i, is_meter))  # one CALL at a time, as OCPP says
                continue
            statuses += not is_meter
            frame = c.meter() if is_meter else _status_frame(c.charger_id, statuses)
            c.busy, c.sent_at = True, now_ns()
            transport.write(frame)
            heapq.heappush(due, (max(at + every, now), i, is_meter))
        await asyncio.sleep(0.05)
    stopping = True
    for c in chargers:
        if c.proto is not None and c.proto.transport is not None:
            c.proto.transport.close()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return result


def _write_count(path: str, online: int) -> None:
    tmp = f"{path}.tmp"
    Path(tmp).write_text(str(online))
    os.replace(tmp, path)  # the parent never reads half a number


def _online(count_files: list[Path]) -> int:
    """Chargers connected and booted, as the load generators count them."""
    total = 0
    for path in count_files:
        try:
            total += int(path.read_text())
        except (OSError, ValueError):
            continue  # a load generator not started yet
    return total


def _worker_connections(port: int) -> int | None:
    """Connections one csms worker holds, as its metrics say; None if it does not answer."""
    held = metric_total(port, "evcs_csms_connections{")
    return None if held is None else int(held)


def _tree_usage(pid: int) -> tuple[float, int]:
    """CPU seconds and resident bytes of a process and its children."""
    cpu, rss = 0.0, 0
    for p in procs.tree(pid):
        try:
            cpu += procs.cpu_seconds(p)
            rss += procs.rss_bytes(p)
        except (OSError, IndexError):
            continue  # a worker exiting
    return cpu, rss


@dataclass
class _Sample:
    t: float
    connected: int  # as the chargers see it: connected and booted
    served: list[int | None]  # as each csms worker's metrics say; None: it did not answer
    cpu: float
    rss: int
    busy: float


class _Timeline:
    """Samples the csms and the machine once a second while the fleet runs."""

    def __init__(
        self, ops_ports: list[int], count_files: list[Path], loading: Future[list[DutyResult]]
    ) -> None:
        self.ops_ports = ops_ports
        self.count_files = count_files
        # A busy worker may take seconds to answer; asking all at once keeps one sample short.
        self.asking = ThreadPoolExecutor(len(ops_ports))
        self.loading = loading  # the load generators: if they end early, so does the run
        self.t0 = time.time()
        self.samples: list[_Sample] = []
        self.events: list[tuple[float, str]] = []
        self.cpu_offset = 0.0  # CPU of csms processes that have exited (before a restart)

    def sample(self, csms_pid: int) -> _Sample:
        served = list(self.asking.map(_worker_connections, self.ops_ports))
        cpu, rss = _tree_usage(csms_pid)
        # A stopping worker's CPU leaves the sum when it exits: the total never goes back.
        cpu = max(self.samples[-1].cpu if self.samples else 0.0, self.cpu_offset + cpu)
        s = _Sample(
            time.time(),
            _online(self.count_files),
            served,
            cpu,
            rss,
            procs.machine_busy_seconds(),
        )
        self.samples.append(s)
        return s

    def wait_for(self, csms_pid: int, total: int, timeout: float) -> _Sample:
        deadline = time.time() + timeout
        while (s := self.sample(csms_pid)).connected < total and time.time() < deadline:
            if self.loading.done():
                self.loading.result()  # raises what stopped them
                raise RuntimeError("the load generators stopped before the fleet was up")
            time.sleep(1.0)
        return s

    def wait_gone(self, csms_pid: int, total: int, timeout: float) -> None:
        """Until the chargers have seen the csms go (their count lags by up to half a second)."""
        deadline = time.time() + timeout
        while self.sample(csms_pid).connected >= total and time.time() < deadline:
            time.sleep(0.2)

    def hold(self, csms_pid: int, seconds: float) -> tuple[_Sample, _Sample]:
        first = self.sample(csms_pid)
        end = first.t + seconds
        while time.time() < end:
            time.sleep(min(1.0, max(0.0, end - time.time())))
            last = self.sample(csms_pid)
        return first, last

    def series(self, p99: dict[int, float], bucket: int) -> dict[str, object]:
        pairs = list(zip(self.samples, self.samples[1:], strict=False))
        return {
            "t_s": [round(b.t - self.t0, 1) for _, b in pairs],
            "connected": [b.connected for _, b in pairs],
            "csms_connections": [sum(n or 0 for n in b.served) for _, b in pairs],
            "workers_silent": [b.served.count(None) for _, b in pairs],
            "csms_cpu_cores": [round((b.cpu - a.cpu) / max(1e-3, b.t - a.t), 3) for a, b in pairs],
            "csms_rss_mib": [round(b.rss / 2**20, 1) for _, b in pairs],
            "p99_t_s": [round(k * bucket + bucket / 2 - self.t0, 1) for k in sorted(p99)],
            "p99_ms": [round(p99[k], 2) for k in sorted(p99)],
            "events": [{"t_s": round(t - self.t0, 1), "label": label} for t, label in self.events],
        }


def _specs(ctx: Ctx, port: int, total: int, loaders: int, stop_file: Path) -> list[DutySpec]:
    per = math.ceil(total / loaders)
    quick = {"meter_every": 1.0, "status_every": 2.0, "bucket": 1} if ctx.quick else {}
    return [
        replace(
            DutySpec(
                "127.0.0.1",
                port,
                [],
                f"127.0.0.{20 + w}",
                str(stop_file),
                str(stop_file.with_suffix(f".{w}.count")),
            ),
            charger_ids=[f"F-{w}-{i}" for i in range(per * w, min(total, per * (w + 1)))],
            **quick,  # type: ignore[arg-type]
        )
        for w in range(loaders)
    ]


def run(ctx: Ctx) -> None:
    limit = raise_fd_limit()
    total = 400 if ctx.quick else FLEET
    per_process = min(PER_PROCESS, limit - 1_000)
    workers = 2 if ctx.quick else math.ceil(total / per_process)
    loaders = 2 if ctx.quick else math.ceil(total / per_process)
    steady = 3.0 if ctx.quick else 90.0
    f = {
        "held": ctx.figure("fleet", "chargers connected at once", "chargers", f">= {total:,}"),
        "connect": ctx.figure("fleet", "whole fleet connected and booted", "s"),
        "rate": ctx.figure("fleet", "messages answered at the fleet's duty", "msg/s"),
        "p50": ctx.figure("fleet", "answer p50 at duty", "ms"),
        "p99": ctx.figure("fleet", "answer p99 at duty", "ms"),
        "cpu": ctx.figure("fleet", "csms CPU at duty, all workers", "cores"),
        "per_msg": ctx.figure("fleet", "csms CPU per message at duty (pings included)", "µs"),
        "busy": ctx.figure("fleet", "machine CPU busy at duty (everything)", "cores"),
        "gc": ctx.figure(
            "fleet", "csms time stopped for garbage collection at duty, busiest worker", "%"
        ),
        "rss": ctx.figure("fleet", "csms memory, all workers", "MiB"),
        "per_conn": ctx.figure(
            "fleet", "csms memory per connected charger, over the workers' own", "KiB", "<= 20"
        ),
        "stop": ctx.figure("fleet", "csms stop, every charger closed and all workers gone", "s"),
        "back": ctx.figure("fleet", "whole fleet back after a csms restart", "s"),
        "lost": ctx.figure("fleet", "chargers not back after the restart", "chargers", "0"),
    }
    for n in range(ctx.runs):
        _one_run(ctx, n, total, workers, loaders, steady, f)
    ctx.notes.append(
        f"fleet: {total:,} chargers, {workers} csms workers, {loaders} load generator processes"
        f" from {loaders} loopback addresses, a recorder; duty: StatusNotification every 60 s,"
        f" MeterValues (4 sampled values) every 30 s, one CALL in flight per charger;"
        f" {steady:.0f} s measured at duty; after the restart a charger reconnects within 1 s"
        " (uniform jitter) and retries a refused connection after 0.5-1.5 s"
    )


def _one_run(
    ctx: Ctx,
    n: int,
    total: int,
    workers: int,
    loaders: int,
    steady: float,
    f: dict[str, Figure],
) -> None:
    ops_base = free_port()
    ops_ports = [ops_base + i for i in range(workers)]
    stop_file = ctx.logs / f"fleet{n}.stop"
    stop_file.unlink(missing_ok=True)
    for old in ctx.logs.glob(f"fleet{n}.*.count"):
        old.unlink()
    log = f"fleet{n}.log"
    csms = start_csms(ctx, f"fleet{n}", log, workers=workers, EVCS_OPS_PORT=str(ops_base))
    recorder = procs.start_unbound("recorder", ["evcs", "recorder"], ctx.env(), ctx.logs / log)
    time.sleep(1.0)  # the workers settle before their resting memory is read
    idle_rss = _tree_usage(csms.pid)[1]
    pool = ThreadPoolExecutor(1)
    specs = _specs(ctx, csms.port, total, loaders, stop_file)
    loading = pool.submit(run_in_processes, _drive, specs, 3600)
    line = _Timeline(ops_ports, [Path(s.count_file) for s in specs], loading)
    try:
        connected = line.wait_for(csms.pid, total, 900)
        connect_seconds = connected.t - line.t0
        line.events.append((connected.t, "all connected"))
        collected, since = [gc_seconds(p) for p in ops_ports], time.monotonic()
        a, b = line.hold(csms.pid, steady)
        stopped = [gc_seconds(p) - then for p, then in zip(ops_ports, collected, strict=True)]
        stopped_share = max(stopped) / (time.monotonic() - since)
        restart_at = time.time()
        line.events.append((restart_at, "csms restart"))
        # Like a service manager's restart: the old workers close their chargers and are gone
        # (killed if they take longer) before the new ones start. Sampled meanwhile.
        with ThreadPoolExecutor(1) as stopper:
            stopping = stopper.submit(csms.stop, 120.0)
            while not stopping.done():
                line.sample(csms.pid)
                time.sleep(0.5)
            stopping.result()
        stopped_at = time.time()
        line.cpu_offset = line.samples[-1].cpu  # the old workers' CPU, all of it
        csms = start_csms(
            ctx, f"fleet{n}b", log, workers=workers, EVCS_OPS_PORT=str(ops_base), port=csms.port
        )
        line.wait_gone(csms.pid, total, 30)
        back = line.wait_for(csms.pid, total, 900)
        label = "all back" if back.connected >= total else f"wait ended, {back.connected:,} counted"
        line.events.append((back.t, label))
        line.hold(csms.pid, 1.0 if ctx.quick else 20.0)
    finally:
        stop_file.touch()
        results = loading.result()
        pool.shutdown()
        line.asking.shutdown()
        csms.stop()
        recorder.stop()
    merged: dict[int, list[int]] = {}
    for r in results:
        for k, v in r.latencies.items():
            merged.setdefault(k, []).extend(v)
    bucket = specs[0].bucket
    window = sorted(
        ns for k, v in merged.items() if a.t <= k * bucket and (k + 1) * bucket <= b.t for ns in v
    )
    seconds = b.t - a.t
    rate = len(window) / max(1, _whole_buckets(a.t, b.t, bucket) * bucket)
    cores = (b.cpu - a.cpu) / seconds
    f["held"].runs.append(connected.connected)
    f["connect"].runs.append(connect_seconds)
    f["rate"].runs.append(rate)
    f["p50"].runs.append(percentile(window, 0.5) / 1e6)
    f["p99"].runs.append(percentile(window, 0.99) / 1e6)
    f["cpu"].runs.append(cores)
    f["per_msg"].runs.append(cores / max(1.0, rate) * 1e6)
    f["busy"].runs.append((b.busy - a.busy) / seconds)
    f["gc"].runs.append(100 * stopped_share)
    f["rss"].runs.append(b.rss / 2**20)
    f["per_conn"].runs.append((b.rss - idle_rss) / max(1, b.connected) / 1024)
    f["stop"].runs.append(stopped_at - restart_at)
    f["back"].runs.append(back.t - restart_at)
    f["lost"].runs.append(total - back.connected)
    p99 = {k: percentile(sorted(v), 0.99) / 1e6 for k, v in merged.items() if len(v) >= 20}
    ctx.series["fleet"] = line.series(p99, bucket)


def _whole_buckets(start: float, end: float, bucket: int) -> int:
    return max(0, int(end) // bucket - math.ceil(start / bucket))
