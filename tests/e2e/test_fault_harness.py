"""Harness for the fault tests (no tests here): real `python -m evcs <role>` processes, and a
fleet of simulated chargers that remembers exactly which of its messages were acknowledged."""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import asyncpg
import redis.asyncio as redis

from shared import registry
from shared.redis_client import connect
from shared.redis_keys import F, Keys
from shared.settings import Settings
from simulators.charger import CallError, NotConnected, SimCharger
from simulators.runner import make_charger

# The numbered messages use a measurand the simulators never send themselves.
MEASURAND = "Energy.Active.Export.Register"
FIGURES: dict[str, dict[str, object]] = {}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def report(fault: str, **figures: object) -> None:
    """Record a fault's figures; printed with -s and collected into docs/reliability.md."""
    FIGURES[fault] = figures
    shown = ", ".join(
        f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items()
    )
    print(f"\nFAULT {fault}: {shown}", flush=True)


def process_env(settings: Settings, prefix: str, **extra: str) -> dict[str, str]:
    """The environment of a child process on the given servers and key prefix."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVCS_")}
    env.update(
        {
            "EVCS_DATABASE_URL": str(settings.database_url),
            "EVCS_REDIS_URL": str(settings.redis_url),
            "EVCS_STREAM_SHARDS": str(settings.stream_shards),
            "EVCS_REDIS_PREFIX": prefix,
            "EVCS_CHARGER_AUTH": "false",
            "EVCS_BOOT_UNKNOWN": "Accepted",
            "EVCS_LOG_LEVEL": "INFO",
            "EVCS_COMMAND_TIMEOUT": "5",
            "EVCS_NODE_TTL": "3",
            "EVCS_ADMIN_TOKEN": "fault-test-admin-token",
            # the faults are under test here, not the partner's rate limit
            "EVCS_RATE_LIMIT_MINUTE": "1000000",
            "EVCS_RATE_LIMIT_HOUR": "1000000",
        }
    )
    env.update(extra)
    return env


@dataclass
class Proc:
    name: str
    process: asyncio.subprocess.Process
    log: Path

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    def send(self, sig: int) -> None:
        if self.alive:
            self.process.send_signal(sig)

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int | None:
        """Send `sig` and wait for the exit code (SIGKILL after `timeout`)."""
        self.send(sig)
        try:
            return await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            return None

    def tail(self, lines: int = 20) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


async def spawn(name: str, argv: list[str], env: dict[str, str], logs: Path) -> Proc:
    log = logs / f"{name}.log"
    with open(log, "ab") as handle:  # noqa: ASYNC230 (a local file, opened once)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "evcs",
            *argv,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=handle,
            stderr=asyncio.subprocess.STDOUT,
        )
    return Proc(name, process, log)


async def eventually(
    probe: Callable[[], Awaitable[bool]], what: str, timeout: float = 30, procs: Iterable[Proc] = ()
) -> float:
    """Wait until `probe()` holds; returns the seconds it took."""
    started = time.monotonic()
    while not await probe():
        for proc in procs:
            if not proc.alive:
                raise AssertionError(f"{proc.name} exited while waiting for {what}:\n{proc.tail()}")
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout:.0f}s")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def listening(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    return True


async def http_ok(url: str) -> bool:
    try:
        async with aiohttp.ClientSession() as http, http.get(url) as response:
            return response.status == 200
    except aiohttp.ClientError:
        return False


async def start_csms(
    name: str, node_id: str, env: dict[str, str], logs: Path, port: int | None = None
) -> tuple[Proc, int]:
    port = port or free_port()
    proc = await spawn(
        name, ["csms"], {**env, "EVCS_NODE_ID": node_id, "EVCS_CSMS_PORT": str(port)}, logs
    )
    await eventually(lambda: listening(port), f"{name} listening", procs=[proc])
    return proc, port


async def start_gateway(name: str, env: dict[str, str], logs: Path) -> tuple[Proc, int]:
    port = free_port()
    proc = await spawn(name, ["gateway"], {**env, "EVCS_GATEWAY_PORT": str(port)}, logs)
    await eventually(
        lambda: http_ok(f"http://127.0.0.1:{port}/api/v1/health"), f"{name} up", procs=[proc]
    )
    return proc, port


async def seed(
    pool: asyncpg.Pool, rds: redis.Redis, keys: Keys, partner: str, chargers: Iterable[str]
) -> str:
    """A partner owning the chargers; returns its API key."""
    await registry.create_partner(pool, partner, partner_id=partner)
    for cp in chargers:
        await registry.register_charger(pool, rds, keys, cp, protocol="ocpp1.6", partner_id=partner)
    return (await registry.issue_api_key(pool, partner))[1]


def _meter_payload(seq: int) -> dict[str, object]:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    sample = {"value": str(seq), "measurand": MEASURAND, "unit": "Wh", "context": "Other"}
    return {"connectorId": 1, "meterValue": [{"timestamp": stamp, "sampledValue": [sample]}]}


@dataclass
class Fleet:
    """OCPP 1.6 chargers through one URL, each sending numbered MeterValues back to back."""

    url: str
    ids: list[str]
    pause_s: float = 0.02
    chargers: dict[str, SimCharger] = field(default_factory=dict)
    acked: dict[str, set[int]] = field(default_factory=lambda: collections.defaultdict(set))
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    unanswered: int = 0  # the connection went away before an answer: not acknowledged
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _stopping: bool = False

    @property
    def acked_total(self) -> int:
        return sum(len(v) for v in self.acked.values())

    async def start(self) -> None:
        for cp in self.ids:
            # Reconnect fast: the tests measure the platform, not the charger's backoff.
            self.chargers[cp] = make_charger(
                cp, self.url, "ocpp1.6", reconnect_delay=0.2, reconnect_max_delay=1.0
            )
        await asyncio.gather(*(c.start(timeout=20) for c in self.chargers.values()))
        self._tasks = [asyncio.create_task(self._send(c)) for c in self.chargers.values()]

    async def _send(self, charger: SimCharger) -> None:
        seq = 0
        while not self._stopping:
            if not charger.booted:
                await asyncio.sleep(0.02)
                continue
            seq += 1
            try:
                await charger.call("MeterValues", _meter_payload(seq), timeout=10)
            except CallError as exc:
                self.errors[exc.code] += 1
            except (NotConnected, TimeoutError):
                self.unanswered += 1
            else:
                self.acked[charger.charger_id].add(seq)
            await asyncio.sleep(self.pause_s)

    async def stop_sending(self) -> None:
        self._stopping = True
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def stop(self) -> None:
        await self.stop_sending()
        await asyncio.gather(*(c.stop() for c in self.chargers.values()), return_exceptions=True)


async def recorded(pool: asyncpg.Pool, ids: list[str]) -> tuple[dict[str, set[int]], int]:
    """The numbered values in PostgreSQL per charger, and how many rows repeat one."""
    rows = await pool.fetch(
        "SELECT charger_id, value, count(*) AS n FROM meter_values"
        " WHERE charger_id = ANY($1::text[]) AND measurand = $2 GROUP BY charger_id, value",
        ids,
        MEASURAND,
    )
    out: dict[str, set[int]] = collections.defaultdict(set)
    duplicates = 0
    for row in rows:
        out[row["charger_id"]].add(int(row["value"]))
        duplicates += row["n"] - 1
    return out, duplicates


async def lost_and_duplicates(
    pool: asyncpg.Pool, fleet: Fleet, timeout: float = 30
) -> tuple[int, int, int]:
    """Wait for every acknowledged message to reach PostgreSQL; (lost, duplicates, recorded)."""

    async def missing() -> int:
        have, _ = await recorded(pool, fleet.ids)
        return sum(len(fleet.acked[cp] - have.get(cp, set())) for cp in fleet.ids)

    async def all_there() -> bool:
        return await missing() == 0

    try:
        await eventually(all_there, "every acknowledged message in PostgreSQL", timeout)
    except AssertionError:
        pass  # counted below, so the figure says how many are missing
    have, duplicates = await recorded(pool, fleet.ids)
    return await missing(), duplicates, sum(len(v) for v in have.values())


async def node_of(rds: redis.Redis, keys: Keys, cp: str) -> str | None:
    fields = await rds.hgetall(keys.charger(cp))
    return fields.get(F.NODE) if fields.get(F.ONLINE) == "1" else None


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
