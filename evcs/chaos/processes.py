"""Real `python -m evcs <role>` child processes: start one on a port (another port if that one
turns out taken), wait for a condition while watching them, kill them."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from shared.ports import free_port
from shared.settings import Settings

__all__ = [
    "CSMS",
    "GATEWAY",
    "NotInTime",
    "Proc",
    "ProcessExited",
    "Server",
    "eventually",
    "free_port",  # chosen here, bound by the child: start_listening tries another if taken
    "http_ok",
    "listening",
    "process_env",
    "spawn",
    "start_csms",
    "start_gateway",
    "start_listening",
]

# how a server says its port was taken between free_port() and its bind
_BIND_FAILED = "address already in use"
_BIND_ATTEMPTS = 5


class ProcessExited(AssertionError):
    """A process that was waited on exited first."""


class NotInTime(AssertionError):
    """A condition did not hold within its time."""


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
    log_from: int = 0  # where this process's output starts in its log (restarts append)

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

    def output(self) -> str:
        with open(self.log, "rb") as handle:
            handle.seek(self.log_from)
            return handle.read().decode(errors="replace")

    def tail(self, lines: int = 20) -> str:
        return "\n".join(self.output().splitlines()[-lines:])


async def spawn(
    name: str, argv: list[str], env: dict[str, str], logs: Path, *, own_session: bool = False
) -> Proc:
    """Start `python -m evcs <argv>`, its output appended to logs/<name>.log. With
    `own_session`, a Ctrl-C in the terminal reaches only us, not the child."""
    log = logs / f"{name}.log"
    with open(log, "ab") as handle:  # noqa: ASYNC230 (a local file, opened once)
        start = handle.tell()
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "evcs",
            *argv,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=handle,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=own_session,
        )
    return Proc(name, process, log, start)


async def eventually(
    probe: Callable[[], Awaitable[bool]], what: str, timeout: float = 30, procs: Iterable[Proc] = ()
) -> float:
    """Wait until `probe()` holds; returns the seconds it took."""
    started = time.monotonic()
    while not await probe():
        for proc in procs:
            if not proc.alive:
                raise ProcessExited(f"{proc.name} exited while waiting for {what}:\n{proc.tail()}")
        if time.monotonic() - started > timeout:
            raise NotInTime(f"{what}: not within {timeout:.0f}s")
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


@dataclass(frozen=True)
class Server:
    """How to start a server role and know it serves."""

    argv: list[str]
    port_variable: str
    says: str  # its log line once it listens (a port another program took answers too)
    ready: Callable[[int], Awaitable[bool]]


def _gateway_up(port: int) -> Awaitable[bool]:
    return http_ok(f"http://127.0.0.1:{port}/api/v1/health")


CSMS = Server(["csms"], "EVCS_CSMS_PORT", "csms node listening", listening)
GATEWAY = Server(["gateway"], "EVCS_GATEWAY_PORT", "gateway listening", _gateway_up)


async def start_listening(
    server: Server,
    name: str,
    env: dict[str, str],
    logs: Path,
    port: int | None = None,
    *,
    own_session: bool = False,
) -> tuple[Proc, int]:
    """Start a server on `port` (default: a free one) and wait until its log says it listens
    and it is ready. When another program took the port first, the server exits saying so:
    try a fresh port."""
    for attempt in range(_BIND_ATTEMPTS):
        chosen = port if port and attempt == 0 else free_port()
        env_here = {**env, server.port_variable: str(chosen)}
        proc = await spawn(name, server.argv, env_here, logs, own_session=own_session)

        async def up(proc: Proc = proc, chosen: int = chosen) -> bool:
            return server.says in proc.output() and await server.ready(chosen)

        try:
            await eventually(up, f"{name} up", procs=[proc])
        except ProcessExited:
            if _BIND_FAILED not in proc.output().lower() or attempt == _BIND_ATTEMPTS - 1:
                raise
            continue
        return proc, chosen
    raise AssertionError("unreachable")


async def start_csms(
    name: str, node_id: str, env: dict[str, str], logs: Path, port: int | None = None
) -> tuple[Proc, int]:
    return await start_listening(CSMS, name, {**env, "EVCS_NODE_ID": node_id}, logs, port)


async def start_gateway(name: str, env: dict[str, str], logs: Path) -> tuple[Proc, int]:
    return await start_listening(GATEWAY, name, env, logs)
