"""Load generator worker processes: many charger connections each, pre-built frames,
closed-loop (as fast as answers come) or paced (a fixed rate per connection)."""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson

from bench.workers import run_in_processes
from bench.wsclient import FrameCounter, masked_text_frame, now_ns, open_ws

STATUS = {
    "connectorId": 1,
    "errorCode": "NoError",
    "status": "Charging",
    "timestamp": "2026-01-01T00:00:00Z",
}
METER = {
    "connectorId": 1,
    "meterValue": [
        {
            "timestamp": "2026-01-01T00:00:00Z",
            "sampledValue": [
                {"value": "12345.6", "unit": "Wh", "measurand": "Energy.Active.Import.Register"},
                {"value": "11000", "unit": "W", "measurand": "Power.Active.Import"},
            ],
        }
    ],
}
BOOT = {"chargePointVendor": "BENCH", "chargePointModel": "LoadGen"}


@dataclass
class Spec:
    host: str
    port: int
    charger_ids: list[str]
    source_ip: str | None = None
    protocol: str = "ocpp1.6"
    duration: float = 5.0
    warmup: float = 1.0
    rate_per_conn: float | None = None  # None: closed loop
    boot: bool = True
    hold_only: bool = False  # connect, boot and stay idle (capacity)
    storm: bool = False  # connect and boot, drop every connection at once, reconnect all
    concurrency: int = 200  # handshakes in flight per process
    # > 0: realistic traffic instead of pre-built frames: every CALL a MeterValues with this
    # many sampled values, a fresh message id and the current time, as a real charger sends
    fresh_samples: int = 0
    # True: the worker runs at idle priority, for background load whose own latencies are not
    # measured: it takes the CPU the servers leave, as a fleet on machines of its own would,
    # instead of competing with the servers for it
    background: bool = False


@dataclass
class Result:
    connected: int = 0
    failed: int = 0
    answered: int = 0
    errors: int = 0
    latencies_ns: list[int] = field(default_factory=list)
    seconds: float = 0.0
    connect_seconds: float = 0.0
    reconnected: int = 0
    reconnect_seconds: float = 0.0


# What a charger with a three-phase meter samples, most telling first.
_MEASURANDS: tuple[tuple[str, str | None, str], ...] = (
    ("Energy.Active.Import.Register", None, "Wh"),
    ("Power.Active.Import", None, "W"),
    ("Current.Import", "L1", "A"),
    ("Current.Import", "L2", "A"),
    ("Current.Import", "L3", "A"),
    ("Voltage", "L1-N", "V"),
    ("Voltage", "L2-N", "V"),
    ("Voltage", "L3-N", "V"),
    ("SoC", None, "Percent"),
    ("Temperature", None, "Celsius"),
)


class FreshMeter:
    """Builds a charger's next MeterValues CALL: a new message id, the time now, readings
    that move. The work a real charger's traffic costs the server, none of it cached."""

    __slots__ = ("n", "prefix", "samples", "wh")

    def __init__(self, prefix: str, samples: int) -> None:
        self.prefix = prefix
        self.samples = _MEASURANDS[:samples]
        self.n = 0
        self.wh = 10_000.0

    def __call__(self) -> bytes:
        self.n += 1
        self.wh += 3.1
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        values = []
        for measurand, phase, unit in self.samples:
            value = self.wh if unit == "Wh" else 11_000.0 + self.n % 50 if unit == "W" else 230.0
            sampled = {"value": f"{value:.1f}", "unit": unit, "measurand": measurand}
            if phase is not None:
                sampled["phase"] = phase
            values.append(sampled)
        payload = {"connectorId": 1, "meterValue": [{"timestamp": now, "sampledValue": values}]}
        return masked_text_frame(
            orjson.dumps([2, f"{self.prefix}-{self.n}", "MeterValues", payload])
        )


def _frames() -> tuple[bytes, bytes, bytes]:
    def call(mid: str, action: str, payload: Mapping[str, object]) -> bytes:
        return masked_text_frame(orjson.dumps([2, mid, action, payload]))

    return (
        call("b", "BootNotification", BOOT),
        call("s", "StatusNotification", STATUS),
        call("m", "MeterValues", METER),
    )


class Conn:
    """One charger connection; sends the next frame when the previous one is answered."""

    __slots__ = (
        "frames",
        "fresh",
        "i",
        "ok",
        "on_answer",
        "proto",
        "result",
        "sent_at",
        "state",
        "waiter",
    )

    def __init__(
        self, result: Result, frames: tuple[bytes, bytes], fresh: FreshMeter | None = None
    ) -> None:
        self.result = result
        self.frames = frames
        self.fresh = fresh
        self.i = 0
        self.sent_at = 0
        self.proto: FrameCounter | None = None
        self.state = "boot"  # boot -> run | hold
        self.waiter: asyncio.Future[None] | None = None
        self.ok = False
        self.on_answer: Callable[[], None] | None = None

    def on_frame(self, data: bytes) -> None:
        if data[1:2] == b"4":  # CALLERROR; an echo server's copy of the CALL counts as an answer
            self.result.errors += 1
        if self.state in ("run", "paced"):
            self.result.answered += 1
            if len(self.result.latencies_ns) < 200_000:
                self.result.latencies_ns.append(now_ns() - self.sent_at)
        if self.on_answer is not None:
            self.on_answer()
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
            return
        if self.state == "run":
            self.send()

    def send(self) -> None:
        assert self.proto is not None and self.proto.transport is not None
        if self.fresh is not None:
            frame = self.fresh()
        else:
            self.i ^= 1
            frame = self.frames[self.i]
        self.sent_at = now_ns()
        self.proto.transport.write(frame)


def idle_priority() -> None:
    """Run this process only on CPU time no other process wants. SCHED_IDLE (Linux): a waking
    server preempts it at once, where at nice 19 it may still finish its time slice. Elsewhere
    the lowest nice."""
    if hasattr(os, "SCHED_IDLE"):
        _own_idle_group()
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    else:
        os.nice(19)


def _own_idle_group() -> None:
    """With the kernel's autogroup on, CPU time is shared between sessions first, and SCHED_IDLE
    yields only to processes of its own session: in a session of its own at the lowest group
    nice, the load is as idle to every server as it is without autogroup."""
    try:
        os.setsid()
        with open("/proc/self/autogroup", "w") as f:
            f.write("19")
    except OSError:
        pass  # no autogroup here (or already a session leader): SCHED_IDLE is enough


async def _run(spec: Spec) -> Result:
    if spec.background:
        idle_priority()
    result = Result()
    boot, status, meter = _frames()
    conns = [
        Conn(
            result,
            (status, meter),
            FreshMeter(charger_id, spec.fresh_samples) if spec.fresh_samples else None,
        )
        for charger_id in spec.charger_ids
    ]
    local = (spec.source_ip, 0) if spec.source_ip else None
    loop = asyncio.get_running_loop()
    started = loop.time()
    sem = asyncio.Semaphore(spec.concurrency)

    async def connect(conn: Conn, charger_id: str) -> None:
        async with sem:
            try:
                conn.proto = await open_ws(
                    spec.host, spec.port, f"/ocpp/{charger_id}", spec.protocol, conn.on_frame, local
                )
                if spec.boot:
                    conn.waiter = loop.create_future()
                    assert conn.proto.transport is not None
                    conn.proto.transport.write(boot)
                    await asyncio.wait_for(conn.waiter, 30)
                    conn.waiter = None
                conn.ok = True
                result.connected += 1
            except (OSError, TimeoutError, ConnectionError):
                result.failed += 1

    await asyncio.gather(*(connect(c, cid) for c, cid in zip(conns, spec.charger_ids, strict=True)))
    result.connect_seconds = loop.time() - started
    live = [c for c in conns if c.ok]
    if spec.hold_only:
        await asyncio.sleep(spec.duration)
        _close(live)
        return result
    if spec.storm:
        _close(live)
        await asyncio.sleep(0.2)  # the drop reaches the server before the wave comes back
        ids = [cid for c, cid in zip(conns, spec.charger_ids, strict=True) if c.ok]
        again = [Conn(result, (status, meter)) for _ in ids]
        before = result.connected
        t0 = loop.time()
        await asyncio.gather(*(connect(c, cid) for c, cid in zip(again, ids, strict=True)))
        result.reconnect_seconds = loop.time() - t0
        result.reconnected = result.connected - before
        result.connected = before
        _close([c for c in again if c.ok])
        return result
    if spec.rate_per_conn is None:
        for c in live:
            c.state = "run"
            c.send()
        await asyncio.sleep(spec.warmup)
        result.answered, result.errors, result.latencies_ns = 0, 0, []
        t0 = loop.time()
        await asyncio.sleep(spec.duration)
        result.seconds = loop.time() - t0
        for c in live:
            c.state = "hold"
    else:
        result.seconds = await _paced(live, spec, result)
    _close(live)
    return result


async def _paced(live: list[Conn], spec: Spec, result: Result) -> float:
    """Each connection sends every 1/rate seconds, unless its last CALL is still unanswered
    (OCPP allows one at a time); one ticker per process drives them all."""
    assert spec.rate_per_conn
    interval = 1.0 / spec.rate_per_conn
    loop = asyncio.get_running_loop()
    start = loop.time()
    due = [start + random.random() * interval for _ in live]
    for c in live:
        c.state = "paced"
    outstanding = [False] * len(live)

    def answered(i: int) -> None:
        outstanding[i] = False

    for i, c in enumerate(live):
        c.on_answer = lambda i=i: answered(i)
    measure_from = start + spec.warmup
    stop_at = measure_from + spec.duration
    reset = False
    while (now := loop.time()) < stop_at:
        if not reset and now >= measure_from:
            result.answered, result.errors, result.latencies_ns = 0, 0, []
            reset = True
        for i, c in enumerate(live):
            if due[i] <= now and not outstanding[i]:
                outstanding[i] = True
                c.send()
                due[i] += interval
                if due[i] < now:  # fell behind: skip, do not burst
                    due[i] = now + interval
        await asyncio.sleep(0.001)
    for c in live:
        c.state = "hold"
    return loop.time() - measure_from


def _close(conns: list[Conn]) -> None:
    for c in conns:
        if c.proto is not None and c.proto.transport is not None:
            c.proto.transport.close()


def run_workers(specs: list[Spec]) -> list[Result]:
    """Run each spec in its own process; return their results."""
    return run_in_processes(_run, specs, max(s.duration + s.warmup for s in specs) + 120)
