"""The operator console against a running system, in a real headless Chromium: a csms node, a
recorder and a gateway on real ports over the session's PostgreSQL and Redis (under a Redis
prefix of their own), the demo data `make dev` seeds, and the demo chargers simulated.

Without a Chromium on the machine every test here is skipped, with that one reason."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as redis
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from csms.server import CsmsApp
from evcs import demo
from gateway.app import create_app
from recorder.app import Recorder
from shared.redis_client import delete_matching
from shared.redis_keys import F, Keys
from shared.settings import Settings
from simulators.charger import SimCharger
from simulators.runner import make_charger
from tests.console.browser import Browser, Page, find_browser

ROOT = Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "console-test-admin-token-0123456789abcdef"
# Set (to anything) to write the operator guide's screenshots: docs/operators/console/*.png
SCREENSHOTS = "EVCS_CONSOLE_SCREENSHOTS"
SHOTS = ROOT / "docs" / "operators" / "console"
NO_BROWSER = "no Chromium on this machine (Debian: apt install chromium)"


@dataclass
class Console:
    """The running system and where its console is."""

    settings: Settings
    url: str  # the gateway's origin: http://127.0.0.1:<port>
    pool: asyncpg.Pool
    rds: redis.Redis
    keys: Keys
    chargers: dict[str, SimCharger] = field(default_factory=dict)

    @property
    def console_url(self) -> str:
        return f"{self.url}/console"


async def eventually(probe: Callable[[], Awaitable[bool]], timeout: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await probe():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


@pytest.fixture(scope="session")
def chromium() -> str:
    found = find_browser()
    if found is None:
        pytest.skip(NO_BROWSER)
    return found


@pytest.fixture(scope="module")
async def console(
    chromium: str, settings: Settings, pool: asyncpg.Pool, rds: redis.Redis
) -> AsyncIterator[Console]:
    tag = secrets.token_hex(3)
    s = settings.model_copy(
        update={
            "csms_port": 0,
            "node_id": f"console-{tag}",
            "admin_token": SecretStr(ADMIN_TOKEN),
            # the demo's chargers may be registered already (by other tests): a fresh prefix
            # projects them anew, as after a Redis loss
            "redis_prefix": f"con{tag}",
        }
    )
    keys = Keys.of(s)
    await demo.seed(s, {})
    node = CsmsApp(s)
    await node.start()
    recorder = Recorder(s, rds, pool)
    recorder_task = asyncio.create_task(recorder.run())
    server = TestServer(create_app(s, redis=rds, pool=pool), host="127.0.0.1")
    await server.start_server()
    system = Console(s, str(server.make_url("")).rstrip("/"), pool, rds, keys)
    try:
        for charger_id, protocol in demo.DEMO_CHARGERS:
            charger = make_charger(
                charger_id, node.url, protocol, meter_interval=1.0, step_delay=0.2
            )
            await charger.start(timeout=60)
            system.chargers[charger_id] = charger

        async def all_reported() -> bool:
            states = [await rds.hgetall(keys.charger(cp)) for cp, _ in demo.DEMO_CHARGERS]
            return all(s.get(F.ONLINE) == "1" and f"{F.RAW}1" in s for s in states)

        await eventually(all_reported)
        yield system
    finally:
        for charger in system.chargers.values():
            await charger.stop()
        await server.close()
        recorder.stop()
        await recorder_task
        await node.stop()
        await delete_matching(rds, f"{s.redis_prefix}:*")


@pytest.fixture(scope="module")
async def browser(chromium: str) -> AsyncIterator[Browser]:
    started = Browser(chromium)
    await started.start()
    try:
        yield started
    finally:
        await started.stop()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A fresh tab with no cookies; afterwards, nothing went wrong in it."""
    async with browser.page() as tab:
        yield tab
        assert not tab.problems, tab.problems


def screenshots_wanted() -> bool:
    return bool(os.environ.get(SCREENSHOTS))


async def shoot(page: Page, name: str, max_height: int = 2000) -> None:
    """The operator guide's screenshot of what the page shows now, when asked for: the page
    from its top, up to `max_height` pixels (long lists are cut, to keep the files small)."""
    if screenshots_wanted():
        await page.evaluate("document.getElementById('toast').textContent = ''")
        await page.screenshot(SHOTS / f"{name}.png", max_height)
