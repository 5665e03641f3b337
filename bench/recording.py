"""Scenario 6, recorder: rows/s into PostgreSQL from a filled stream, and the lag it keeps
while csms ingests at half of its measured maximum."""

from __future__ import annotations

import time
from functools import partial

import redis

from bench import procs
from bench.context import Ctx, start_csms
from bench.loadgen import Spec, run_workers
from bench.sampler import Peak
from shared import events as ev
from shared.redis_client import connect_sync
from shared.redis_keys import RECORDER_GROUP, Keys


def _fill(r: redis.Redis, keys: Keys, events: int) -> None:
    now = time.time()
    ts = "2026-01-01T00:00:00Z"
    status = ev.encode(
        ev.status(
            "REC-0",
            now,
            connector=1,
            ocpp_status="Charging",
            status="CHARGING",
            previous="CHARGING",
            ts=ts,
            error_code="NoError",
        )
    )
    samples: list[ev.Sample] = [
        ("Energy.Active.Import.Register", None, 1000.0, "Wh"),
        ("Power.Active.Import", None, 11000.0, "W"),
    ]
    meter = ev.encode(
        ev.meter("REC-0", now, connector=1, transaction_id="1", ts=ts, samples=samples)
    )
    streams = keys.streams()
    pipe = r.pipeline(transaction=False)
    for i in range(events):
        pipe.xadd(streams[i % len(streams)], status if (i // len(streams)) % 2 else meter)
        if i % 5000 == 4999:
            pipe.execute()
    pipe.execute()


def _pending(r: redis.Redis, keys: Keys, shard: int = 0) -> tuple[int, int]:
    """(entries not yet acknowledged or not yet delivered, age in ms of the oldest of them)."""
    stream = keys.stream(shard)
    if not r.exists(stream):
        return 0, 0
    groups = {
        g["name"].decode() if isinstance(g["name"], bytes) else g["name"]: g
        for g in r.xinfo_groups(stream)
    }
    group = groups.get(RECORDER_GROUP)
    last = r.xinfo_stream(stream)["last-generated-id"]
    last = last.decode() if isinstance(last, bytes) else last
    if group is None:
        return int(r.xlen(stream)), 0
    lag = int(group.get("lag") or 0) + int(group["pending"])
    if not lag:
        return 0, 0
    summary = r.xpending(stream, RECORDER_GROUP)
    if summary["pending"]:
        oldest = _text(summary["min"])
    else:
        # nothing pending: the oldest waiting entry is the first one after the last delivered
        # (the group's "0-0" before its first read is no entry's time)
        after = r.xrange(stream, min=f"({_text(group['last-delivered-id'])}", count=1)
        if not after:
            return 0, 0
        oldest = _text(after[0][0])
    age = int(last.split("-")[0]) - int(str(oldest).split("-")[0])
    return lag, max(0, age)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _delivered(r: redis.Redis, keys: Keys, shard: int = 0) -> str:
    """The recorder group's last delivered id ("0-0" before its first read)."""
    try:
        groups = r.xinfo_groups(keys.stream(shard))
    except redis.ResponseError:
        return "0-0"
    for g in groups:
        if _text(g["name"]) == RECORDER_GROUP:
            return _text(g["last-delivered-id"])
    return "0-0"


def _lag_ms(r: redis.Redis, keys: Keys) -> float:
    return float(_pending(r, keys)[1])


def run(ctx: Ctx) -> None:
    events = 5_000 if ctx.quick else 300_000
    one = ctx.figure("recorder", "rows written from a filled stream, 1 recorder", "rows/s")
    two = ctx.figure("recorder", "rows written, 2 recorders on 2 shards", "rows/s", ">= 100,000")
    cpu = ctx.figure(
        "recorder", "machine CPU per row (recorders, PostgreSQL, Redis), 2 recorders", "µs"
    )
    lag_max = ctx.figure("recorder", "max lag while csms ingests at 50%", "s", "< 2")
    r = connect_sync(str(ctx.settings.redis_url))
    for n in range(ctx.runs):
        one.runs.append(_rows_per_s(ctx, r, f"{ctx.settings.redis_prefix}r{n}", events, 1)[0])
        rate, busy = _rows_per_s(ctx, r, f"{ctx.settings.redis_prefix}rr{n}", events, 2)
        two.runs.append(rate)
        cpu.runs.append(busy)
    _lag_under_ingest(ctx, r, lag_max)


def _rows_per_s(
    ctx: Ctx, r: redis.Redis, prefix: str, events: int, recorders: int
) -> tuple[float, float]:
    """Rows/s that `recorders` processes write from as many filled stream shards, from the
    first delivered batch until everything is written and acknowledged (process start-up is
    not throughput), and the machine's busy CPU µs per row meanwhile."""
    keys = Keys(prefix, recorders)
    _fill(r, keys, events)
    env = ctx.env(EVCS_REDIS_PREFIX=prefix, EVCS_STREAM_SHARDS=str(recorders))
    recs = [
        procs.start_unbound("recorder", ["evcs", "recorder"], env, ctx.logs / f"recorder{i}.log")
        for i in range(recorders)
    ]
    shards = range(recorders)
    try:
        deadline = time.monotonic() + 300
        while all(_delivered(r, keys, s) == "0-0" for s in shards):
            if time.monotonic() > deadline:
                raise RuntimeError("the recorders delivered nothing")
            time.sleep(0.005)
        t0, busy0 = time.monotonic(), procs.machine_busy_seconds()
        last = [_text(r.xinfo_stream(keys.stream(s))["last-generated-id"]) for s in shards]
        while time.monotonic() < deadline and any(
            _delivered(r, keys, s) != last[s] or _pending(r, keys, s)[0] for s in shards
        ):
            time.sleep(0.01)
        rows = events * 1.5  # a meter event is 2 rows, a status 1
        busy = procs.machine_busy_seconds() - busy0
        return rows / (time.monotonic() - t0), busy / rows * 1e6
    finally:
        for rec in recs:
            rec.stop()


def _lag_under_ingest(ctx: Ctx, r: redis.Redis, figure: object) -> None:
    from bench.stats import Figure

    assert isinstance(figure, Figure)
    top = next((f.median for f in ctx.figures if f.metric == "csms, closed loop"), 5000.0)
    conns = 200 if ctx.quick else 1000
    for n in range(ctx.runs):
        prefix = f"{ctx.settings.redis_prefix}l{n}"
        keys = Keys(prefix)
        csms = start_csms(ctx, f"lag{n}", "csms-lag.log", EVCS_REDIS_PREFIX=prefix)
        port = csms.port
        rec = procs.start_unbound(
            "recorder",
            ["evcs", "recorder"],
            ctx.env(EVCS_REDIS_PREFIX=prefix),
            ctx.logs / "recorder-lag.log",
        )
        spec = Spec(
            "127.0.0.1",
            port,
            [f"G{n}-{i}" for i in range(conns)],
            duration=ctx.seconds * 2,
            rate_per_conn=0.5 * top / conns,
        )
        try:
            with Peak(partial(_lag_ms, r, keys)) as lag:
                run_workers([spec])
        finally:
            csms.stop()
            rec.stop()
        figure.runs.append(lag.peak / 1000)
