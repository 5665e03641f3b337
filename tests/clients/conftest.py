"""A running system for the client and documentation tests: a csms node, a recorder and a
gateway on real ports against the session's real PostgreSQL and Redis, simulated chargers,
and partners with real keys. One per test module (stopped at its end, so its recorder and
node never linger into other packages' tests); every test uses its own chargers."""

from __future__ import annotations

import asyncio
import itertools
import secrets
import shutil
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as redis
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from csms.server import CsmsApp
from gateway.app import create_app
from recorder.app import Recorder
from shared import registry
from shared.redis_keys import Keys
from shared.settings import Settings
from simulators.charger import SimCharger
from simulators.runner import make_charger

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = ROOT / "clients"

# The Python client is its own package (clients/python); the tests use it from its source.
_SRC = str(CLIENTS / "python" / "src")
if _SRC not in sys.path:
    sys.path.insert(0, _SRC)

ADMIN_TOKEN = "clients-test-admin-token-0123456789abcdef"
_counter = itertools.count(1)


@dataclass
class PartnerKey:
    id: str
    key: str


@dataclass
class Live:
    """The running system and what a partner needs to call it."""

    settings: Settings
    url: str  # the gateway's origin: http://127.0.0.1:<port>
    pool: asyncpg.Pool
    rds: redis.Redis
    node: CsmsApp
    partner: PartnerKey
    tag: str = field(default_factory=lambda: secrets.token_hex(3))
    chargers: dict[str, SimCharger] = field(default_factory=dict)

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/v1"

    def new_id(self, prefix: str = "CL") -> str:
        return f"{prefix}-{self.tag}-{next(_counter)}"

    async def make_partner(self, minute: int = 100_000, hour: int = 1_000_000) -> PartnerKey:
        """A partner with a real API key and the given rate limits."""
        partner = await registry.create_partner(
            self.pool, "Client tests", partner_id=f"cl{self.tag}-{next(_counter)}"
        )
        await self.pool.execute(
            "UPDATE partners SET rate_limit_minute = $2, rate_limit_hour = $3 WHERE id = $1",
            partner.id,
            minute,
            hour,
        )
        _, key = await registry.issue_api_key(self.pool, partner.id)
        return PartnerKey(partner.id, key)

    async def register(
        self, charger_id: str, protocol: str = "ocpp1.6", partner_id: str | None = None
    ) -> None:
        """A charger of the test partner (or another) that never connects."""
        await registry.register_charger(
            self.pool,
            self.rds,
            Keys.of(self.settings),
            charger_id,
            protocol=protocol,
            partner_id=partner_id or self.partner.id,
        )

    async def plug_in(self, charger_id: str, protocol: str = "ocpp1.6") -> SimCharger:
        """A simulated charger of the test partner, connected and booted."""
        await self.register(charger_id, protocol)
        charger = make_charger(
            charger_id, self.node.url, protocol, meter_interval=0.2, power_w=360_000
        )
        await charger.start(timeout=10)
        self.chargers[charger_id] = charger
        return charger


async def eventually(probe: Callable[[], Awaitable[bool]], timeout: float = 15.0) -> None:
    """Wait for something the system does asynchronously."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await probe():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def sent(charger: SimCharger, action: str) -> int:
    """How many times the charger received an OCPP call."""
    return sum(1 for name, _ in charger.received if name == action)


@pytest.fixture(scope="module")
async def live(settings: Settings, pool: asyncpg.Pool, rds: redis.Redis) -> AsyncIterator[Live]:
    tag = secrets.token_hex(3)
    s = settings.model_copy(
        update={
            "csms_port": 0,
            "node_id": f"clients-{tag}",
            "admin_token": SecretStr(ADMIN_TOKEN),
        }
    )
    node = CsmsApp(s)
    await node.start()
    recorder = Recorder(s, rds, pool)
    recorder_task = asyncio.create_task(recorder.run())
    server = TestServer(create_app(s, redis=rds, pool=pool), host="127.0.0.1")
    await server.start_server()
    system = Live(s, str(server.make_url("")).rstrip("/"), pool, rds, node, PartnerKey("", ""))
    system.tag = tag
    system.partner = await system.make_partner()
    try:
        yield system
    finally:
        for charger in system.chargers.values():
            await charger.stop()
        await server.close()
        recorder.stop()
        await recorder_task
        await node.stop()


JS = CLIENTS / "js"


async def run(*command: str, cwd: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run a command without blocking the event loop the system serves on."""
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=300)
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")


@pytest.fixture(scope="session")
async def js_client() -> Path:
    """clients/js installed (`npm ci`, once per machine) and built; skipped only without node."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node is not installed")
    if not (JS / "node_modules" / ".bin" / "tsc").exists():
        code, output = await run(npm, "ci", "--no-audit", "--no-fund", cwd=JS)
        assert code == 0, output
    code, output = await run(npm, "run", "--silent", "build", cwd=JS)
    assert code == 0, output
    return JS
