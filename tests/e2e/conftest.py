"""The whole system in-process on real ports: csms node(s), gateway, recorder, simulated chargers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import asyncpg
import pytest
import redis.asyncio as redis
from aiohttp.test_utils import TestServer

from csms.server import CsmsApp
from gateway.app import create_app
from recorder.app import Recorder
from shared import registry
from shared.redis_keys import Keys
from shared.settings import Settings
from simulators.charger import SimCharger
from simulators.runner import make_charger


@dataclass
class System:
    settings: Settings
    redis: redis.Redis
    gateway_url: str
    http: aiohttp.ClientSession
    nodes: list[CsmsApp]
    keys: dict[str, str]  # partner id -> API key
    chargers: dict[str, SimCharger] = field(default_factory=dict)

    async def get(self, path: str, key: str | None = None, **kw: Any) -> tuple[int, Any]:
        headers = {"x-api-key": key} if key else {}
        async with self.http.get(self.gateway_url + path, headers=headers, **kw) as r:
            return r.status, await r.json()

    async def post(self, path: str, body: Any, key: str) -> tuple[int, Any]:
        async with self.http.post(
            self.gateway_url + path, json=body, headers={"x-api-key": key}
        ) as r:
            return r.status, await r.json()

    async def eventually(self, probe: Callable[[], Awaitable[bool]], timeout: float = 10) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not await probe():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("condition not met in time")
            await asyncio.sleep(0.05)


@pytest.fixture
async def system(
    backend: tuple[Settings, redis.Redis], pool: asyncpg.Pool, uid: str
) -> AsyncIterator[System]:
    """Two csms nodes, a recorder and a gateway in-process, on one Redis server or a cluster."""
    settings, rds = backend
    s = settings.model_copy(update={"csms_port": 0, "node_id": f"e2e-{uid}-a"})
    api_keys: dict[str, str] = {}
    for partner in (f"pa{uid}", f"pb{uid}"):
        await registry.create_partner(pool, partner, partner_id=partner)
        api_keys[partner] = (await registry.issue_api_key(pool, partner))[1]
    nodes = [CsmsApp(s), CsmsApp(s.model_copy(update={"node_id": f"e2e-{uid}-b"}))]
    for node in nodes:
        await node.start()
    recorder = Recorder(s, rds, pool)
    recorder_task = asyncio.create_task(recorder.run())
    server = TestServer(create_app(s, redis=rds, pool=pool), host="127.0.0.1")
    await server.start_server()
    http = aiohttp.ClientSession()
    system = System(s, rds, str(server.make_url("/api/v1")), http, nodes, api_keys)
    try:
        yield system
    finally:
        for charger in system.chargers.values():
            await charger.stop()
        await http.close()
        await server.close()
        recorder.stop()
        await recorder_task
        for node in nodes:
            await node.stop()


async def connect_sim(system: System, charger_id: str, protocol: str, node: int = 0) -> SimCharger:
    """Connect a simulated charger to the given csms node and wait for its boot."""
    # 360 kW: whole watt-hours accrue between two 0.2 s meter samples
    charger = make_charger(
        charger_id, system.nodes[node].url, protocol, meter_interval=0.2, power_w=360_000
    )
    await charger.start(timeout=10)
    system.chargers[charger_id] = charger
    return charger


async def plug_in(
    system: System,
    pool: asyncpg.Pool,
    charger_id: str,
    protocol: str,
    partner: str,
    node: int = 0,
) -> SimCharger:
    """Register a charger for the partner and connect a simulated one to the given node."""
    await registry.register_charger(
        pool,
        system.redis,
        Keys.of(system.settings),
        charger_id,
        protocol=protocol,
        partner_id=partner,
    )
    return await connect_sim(system, charger_id, protocol, node)
