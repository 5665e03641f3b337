"""Scenario 5, control: a partner's on/off round trip (HTTP in, RemoteStart/Stop to a simulated
charger, its answer, HTTP out) while csms ingests at half of its measured maximum."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import aiohttp

from bench import procs
from bench.charts import latest_figures, load_runs
from bench.context import RESULTS, Ctx, start_csms, start_gateway
from bench.loadgen import Result, Spec, run_workers
from bench.scrape import Buckets, histogram
from bench.stats import bucket_quantile, percentile
from shared import db, registry
from shared.ports import free_port
from shared.redis_client import connect
from shared.redis_keys import Keys

CHARGERS = 10
# Run length in units of ctx.seconds: ~1,000 commands a run, so that its p99 is the tenth
# slowest rather than the fifth (with 480 it moved by several ms from run to run).
MEASURED = 6
# In a running system the recorder trims the event stream of what it has recorded, seconds
# behind. Here a thread trims it instead: left to grow by the whole load, the stream had Redis
# fork every 5-10 s to rewrite an ever larger append-only file (6-12 ms a fork, then a core
# for the rewrite), and a recorder on these two cores takes the CPU the servers measured need.
KEPT_ENTRIES = 50_000  # per stream shard: a few seconds of the load
TRIM_EVERY = 1.0


def _trim_until(ctx: Ctx, stop: threading.Event, failed: list[BaseException]) -> None:
    """Trim every event stream to its last KEPT_ENTRIES, each TRIM_EVERY, until `stop`; what
    made it give up goes to `failed`."""
    s = ctx.settings
    assert s.redis_url
    loop = asyncio.new_event_loop()
    try:
        r = loop.run_until_complete(connect(s.redis_url, mode=s.redis_mode))
        while not stop.wait(TRIM_EVERY):
            for stream in Keys.of(s).streams():
                loop.run_until_complete(r.xtrim(stream, maxlen=KEPT_ENTRIES, approximate=True))
        loop.run_until_complete(r.aclose())
    except BaseException as exc:
        failed.append(exc)
    finally:
        loop.close()


async def _seed(ctx: Ctx, partner: str, ids: list[str]) -> str:
    s = ctx.settings
    assert s.database_url and s.redis_url
    pool = await db.create_pool(s.database_url, max_size=2)
    r = await connect(s.redis_url, mode=s.redis_mode)
    try:
        await registry.create_partner(pool, partner, partner_id=partner)
        for cp in ids:
            await registry.register_charger(
                pool,
                r,
                Keys.of(s),
                cp,
                protocol="ocpp1.6",
                partner_id=partner,
                actor="bench",
            )
        return (await registry.issue_api_key(pool, partner, actor="bench"))[1]
    finally:
        await pool.close()
        await r.aclose()


async def _cycle(
    base: str,
    key: str,
    cp: str,
    until: float,
    latencies: list[float],
    failures: list[int],
    warmed: Callable[[], None],
) -> None:
    """On, off, on, ... until `until`. The first on/off is not counted (`warmed` is called
    after it): it opens the connections every later command reuses (HTTP, and the pools behind
    the gateway and the csms), which a running system has open already."""
    async with aiohttp.ClientSession(headers={"x-api-key": key}) as http:
        warm = 0  # of the first on and off, done
        while time.monotonic() < until:
            for action in ("on", "off"):
                t0 = time.perf_counter()
                async with http.post(
                    f"{base}/chargers/{cp}/control", json={"action": action}
                ) as resp:
                    await resp.read()
                    ok = resp.status == 200
                took = (time.perf_counter() - t0) * 1000
                if warm < 2:
                    warm += 1
                    if warm == 2:
                        warmed()
                else:
                    latencies.append(took)
                if not ok:
                    failures.append(resp.status)
                # let the charger start (or end) its transaction before the opposite command
                await asyncio.sleep(0.3)


# The gateway's timing of each stage of a command (gateway/dispatch.py)
STAGES = "evcs_gateway_command_stage_seconds"


def _pooled(readings: list[Buckets], stage: str) -> list[tuple[float, float]]:
    """One stage's buckets summed over several readings."""
    pooled: dict[float, float] = {}
    for reading in readings:
        for le, count in reading.get(stage, []):
            pooled[le] = pooled.get(le, 0.0) + count
    return sorted(pooled.items())


def _stages(readings: list[tuple[Buckets, Buckets]]) -> str:
    """p50 / p99 of each stage over every run, from the differences of the histogram's
    readings around the runs."""
    parts = []
    firsts, lasts = [first for first, _ in readings], [last for _, last in readings]
    for stage in ("record", "send", "outcome"):
        b, a = _pooled(firsts, stage), _pooled(lasts, stage)
        p50, p99 = (1000 * bucket_quantile(b, a, q) for q in (0.5, 0.99))
        parts.append(f"{stage} {p50:.1f} / {p99:.0f} ms")
    return (
        "p50 / p99 of a command's stages (from its histogram, whose buckets double in width;"
        " every run, after each charger's first on and off): " + ", ".join(parts)
    )


def _closed_loop(ctx: Ctx) -> float:
    """The csms's closed-loop rate: this run's ingest figure, else the last published one."""
    for f in ctx.figures:
        if f.metric == "csms, closed loop":
            return f.median
    published = latest_figures(load_runs(RESULTS))
    found = [f["median"] for f in published if f["metric"] == "csms, closed loop"]
    if not found:
        raise SystemExit("control: run the ingest scenario first (its rate sets the load)")
    return float(found[0])


def run(ctx: Ctx, scenario: str = "control", where: str = "", top: float | None = None) -> None:
    """On/off round trips under half of the csms's closed-loop rate (`top`, msg/s; the ingest
    scenario's figure by default); `where` names the topology in the figures."""
    partner = f"{ctx.settings.redis_prefix}-{scenario}"
    ids = [f"{partner}-{i}" for i in range(CHARGERS)]
    key = asyncio.run(_seed(ctx, partner, ids))
    csms = start_csms(ctx, "ctl", "csms-control.log")
    csms_port = csms.port
    gw_ops = free_port()
    gw = start_gateway(ctx, "gateway-control.log", EVCS_OPS_PORT=str(gw_ops))
    gw_port = gw.port
    stages: list[tuple[Buckets, Buckets]] = []  # the gateway's stage histogram around each run
    sims = procs.start_unbound(
        "sim",
        [
            "evcs",
            "sim",
            "--url",
            f"ws://127.0.0.1:{csms_port}/ocpp",
            "--protocol",
            "ocpp1.6",
            "--ids",
            ",".join(ids),
        ],
        ctx.env(),
        ctx.logs / "sim-control.log",
    )
    trimmed = threading.Event()
    untrimmed: list[BaseException] = []
    trimming = threading.Thread(target=_trim_until, args=(ctx, trimmed, untrimmed), daemon=True)
    trimming.start()
    p50 = ctx.figure(scenario, f"on/off round trip p50 under 50% ingest{where}", "ms")
    p95 = ctx.figure(scenario, f"on/off round trip p95 under 50% ingest{where}", "ms")
    p99 = ctx.figure(scenario, f"on/off round trip p99 under 50% ingest{where}", "ms", "< 20")
    if top is None:
        top = _closed_loop(ctx)
    ingested = ctx.figure(scenario, f"telemetry answered while measured{where}", "msg/s")
    conns = 200 if ctx.quick else 1000
    failures: list[int] = []
    counted: list[int] = []  # commands measured in each run
    # while measured: seconds each of csms and gateway ran, waited for a CPU, and elapsed
    sched = {"csms": [0.0, 0.0, 0.0], "gateway": [0.0, 0.0, 0.0]}
    try:
        time.sleep(2)  # the simulated chargers boot
        for n in range(ctx.runs):
            telemetry: list[Result] = []
            spec = Spec(
                "127.0.0.1",
                csms_port,
                [f"CL{n}-{i}" for i in range(conns)],
                duration=MEASURED * ctx.seconds + 2,
                rate_per_conn=0.5 * top / conns,
                # Chargers on machines of their own: at idle priority the load still offers its
                # rate (the servers leave it most of a core; "telemetry answered while measured"
                # shows it held) and delays the servers whose round trip is measured as little
                # as a separate machine would.
                background=True,
            )
            background = threading.Thread(
                target=lambda spec=spec, out=telemetry: out.extend(run_workers([spec])),
                daemon=True,
            )
            background.start()
            time.sleep(0.5 if ctx.quick else 1.5)  # the load is up
            latencies: list[float] = []
            until = time.monotonic() + MEASURED * ctx.seconds

            async def all_chargers(
                lat: list[float] = latencies, until: float = until
            ) -> Buckets | None:
                """Every charger's cycle; the gateway's stage histogram read once every
                charger's first on and off are done, so that they are not counted there either."""
                base = f"http://127.0.0.1:{gw_port}/api/v1"
                cold = len(ids)
                all_warm = asyncio.Event()

                def warmed() -> None:
                    nonlocal cold
                    cold -= 1
                    if not cold:
                        all_warm.set()

                async def read_when_warm() -> Buckets | None:
                    await all_warm.wait()
                    return await asyncio.to_thread(histogram, gw_ops, STAGES, "stage")

                reading = asyncio.create_task(read_when_warm())
                await asyncio.gather(
                    *(_cycle(base, key, cp, until, lat, failures, warmed) for cp in ids)
                )
                if not all_warm.is_set():  # a run too short for every charger to warm
                    reading.cancel()
                    return None
                return await reading

            watched = {"csms": csms.pid, "gateway": gw.pid}
            before = {name: procs.sched_seconds(pid) for name, pid in watched.items()}
            started = time.monotonic()
            stages_before = asyncio.run(all_chargers())
            stages_after = histogram(gw_ops, STAGES, "stage")
            if stages_before is not None and stages_after is not None:
                stages.append((stages_before, stages_after))
            for name, pid in watched.items():
                ran, waited = procs.sched_seconds(pid)
                sched[name][0] += ran - before[name][0]
                sched[name][1] += waited - before[name][1]
                sched[name][2] += time.monotonic() - started
            background.join()
            if not telemetry:
                raise RuntimeError("control: the telemetry load did not report")
            ingested.runs.append(
                sum(r.answered for r in telemetry) / max(r.seconds for r in telemetry)
            )
            lat = sorted(latencies)
            counted.append(len(lat))
            p50.runs.append(percentile(lat, 0.5))  # type: ignore[arg-type]
            p95.runs.append(percentile(lat, 0.95))  # type: ignore[arg-type]
            p99.runs.append(percentile(lat, 0.99))  # type: ignore[arg-type]
    finally:
        trimmed.set()
        trimming.join()
        sims.stop()
        gw.stop()
        csms.stop()
    if untrimmed:
        raise RuntimeError("control: the event stream was not kept trimmed") from untrimmed[0]
    ctx.notes.append(
        f"control: telemetry offered at {top / 2:,.0f} msg/s{where} (half the csms's closed loop)"
        f" by {conns} chargers whose load generator runs at idle priority"
    )
    ctx.notes.append(
        f"control: no recorder runs; the event stream is trimmed to its last {KEPT_ENTRIES:,}"
        f" entries a shard every {TRIM_EVERY:g} s, as a recorder trims what it has recorded"
    )
    ctx.notes.append(
        f"control: {min(counted, default=0)}-{max(counted, default=0)} commands measured a run"
        f" ({CHARGERS} chargers cycling on/off), after each charger's first on and off"
    )
    ctx.notes.append(
        "control: while measured, "
        + "; ".join(
            f"the {name}'s event loop ran {ran / max(1e-9, elapsed):.0%} of a core and waited for"
            f" a CPU {waited / max(1e-9, ran + waited):.0%} of the time it was runnable"
            for name, (ran, waited, elapsed) in sched.items()
        )
    )
    if stages:
        ctx.notes.append(f"control: in the gateway, {_stages(stages)}")
    if failures:
        ctx.notes.append(
            f"control: {len(failures)} commands were not 200 (statuses {sorted(set(failures))})"
        )
