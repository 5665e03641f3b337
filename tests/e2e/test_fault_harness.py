"""Harness for the fault tests (no tests here). The processes and the counting fleet live in
evcs.chaos (`evcs soak` uses them too); this adds what only the tests need: one csms, gateway
and recorder under load (deployment), and the FAULT lines (report)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg

from evcs.chaos.fleet import (
    MEASURAND,
    Fleet,
    lost_and_duplicates,
    meter_payload,
    node_of,
    recorded,
    seed,
)
from evcs.chaos.processes import (
    Proc,
    eventually,
    free_port,
    http_ok,
    listening,
    process_env,
    spawn,
    start_csms,
    start_gateway,
)
from shared.redis_client import connect
from shared.redis_keys import Keys
from shared.settings import Settings

__all__ = [
    "FIGURES",
    "MEASURAND",
    "Deployment",
    "Fleet",
    "Proc",
    "deployment",
    "eventually",
    "free_port",
    "http_ok",
    "listening",
    "lost_and_duplicates",
    "meter_payload",
    "node_of",
    "process_env",
    "recorded",
    "report",
    "seed",
    "spawn",
    "start_csms",
    "start_gateway",
]

FIGURES: dict[str, dict[str, object]] = {}


def report(fault: str, **figures: object) -> None:
    """Record a fault's figures; printed with -s and collected into docs/reliability.md."""
    FIGURES[fault] = figures
    shown = ", ".join(
        f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items()
    )
    print(f"\nFAULT {fault}: {shown}", flush=True)


@dataclass
class Deployment:
    """csms, gateway and recorder processes on one Redis, a fleet of chargers sending through
    the csms, and a partner's HTTP session on the gateway."""

    procs: list[Proc]
    fleet: Fleet
    keys: Keys
    api: str
    http: aiohttp.ClientSession
    node_id: str

    @property
    def ids(self) -> list[str]:
        return self.fleet.ids

    async def acked_at_least(self, n: int) -> bool:
        return self.fleet.acked_total >= n


@asynccontextmanager
async def deployment(
    settings: Settings,
    pool: asyncpg.Pool,
    redis_url: str,
    tag: str,
    logs: Path,
    *,
    shards: int = 1,
    chargers: int = 8,
    warm_up: int = 200,
    **env: str,
) -> AsyncIterator[Deployment]:
    """Start it all under the key prefix `tag`, with `warm_up` messages acknowledged before
    this yields; stop it all after."""
    s = settings.model_copy(
        update={"redis_url": redis_url, "redis_prefix": tag, "stream_shards": shards}
    )
    keys = Keys.of(s)
    rds = await connect(redis_url)
    try:
        ids = [f"{tag.upper()}-{i}" for i in range(chargers)]
        api_key = await seed(pool, rds, keys, tag, ids)
    finally:
        await rds.aclose()
    process = process_env(s, tag, **env)
    ops = free_port()
    (csms, csms_port), (gateway, gateway_port), recorder = await asyncio.gather(
        start_csms("csms", tag, process, logs),
        start_gateway("gateway", process, logs),
        spawn("recorder", ["recorder"], {**process, "EVCS_OPS_PORT": str(ops)}, logs),
    )
    procs = [csms, gateway, recorder]
    fleet = Fleet(f"ws://127.0.0.1:{csms_port}/ocpp", ids)
    http = aiohttp.ClientSession(headers={"x-api-key": api_key})
    system = Deployment(procs, fleet, keys, f"http://127.0.0.1:{gateway_port}/api/v1", http, tag)
    try:
        await eventually(lambda: http_ok(f"http://127.0.0.1:{ops}/health"), "recorder", procs=procs)
        await fleet.start()
        await eventually(lambda: system.acked_at_least(warm_up), "load flowing", procs=procs)
        yield system
    finally:
        await http.close()
        await fleet.stop()
        for proc in procs:
            await proc.stop(signal.SIGTERM)
