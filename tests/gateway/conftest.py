"""Gateways on real sockets against the session's real PostgreSQL and Redis, partners with real
keys, and a scriptable csms node on the real command bus."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import redis.asyncio as redis
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from csms.server import CsmsApp
from gateway.app import create_app
from shared import registry
from shared.bus import CommandRequest
from shared.redis_keys import Keys
from shared.settings import Settings
from tests.gateway.support import (
    ADMIN_TOKEN,
    FakeNode,
    Gateway,
    MakeCharger,
    MakeGateway,
    MakePartner,
    Partner,
    Script,
    StartNode,
)

_counter = itertools.count(1)


@pytest.fixture
async def make_gateway(
    settings: Settings, pool: asyncpg.Pool, rds: redis.Redis
) -> AsyncIterator[MakeGateway]:
    started: list[TestClient[Any, Any]] = []

    async def make(
        app: web.Application | None = None, share: bool = True, **overrides: Any
    ) -> Gateway:
        if app is None:
            s = settings.model_copy(update={"admin_token": SecretStr(ADMIN_TOKEN), **overrides})
            app = create_app(s, redis=rds, pool=pool) if share else create_app(s)
        client: TestClient[Any, Any] = TestClient(TestServer(app))
        await client.start_server()
        started.append(client)
        return Gateway(app, client)

    yield make
    for client in started:
        await client.close()


@pytest.fixture
async def node(settings: Settings, uid: str) -> AsyncIterator[CsmsApp]:
    """A real csms node on a port of its own, for commands to reach a charger through."""
    app = CsmsApp(settings.model_copy(update={"csms_port": 0, "node_id": f"node-{uid}"}))
    await app.start()
    yield app
    await app.stop()


@pytest.fixture
async def gw(make_gateway: MakeGateway) -> Gateway:
    return await make_gateway()


@pytest.fixture
def make_partner(pool: asyncpg.Pool, uid: str) -> MakePartner:
    async def make(minute: int | None = None, hour: int | None = None) -> Partner:
        partner = await registry.create_partner(
            pool, "Partner", partner_id=f"p{uid}-{next(_counter)}"
        )
        if minute or hour:
            await pool.execute(
                "UPDATE partners SET rate_limit_minute = $2, rate_limit_hour = $3 WHERE id = $1",
                partner.id,
                minute,
                hour,
            )
        _, key = await registry.issue_api_key(pool, partner.id)
        return Partner(partner.id, key)

    return make


@pytest.fixture
async def partner(make_partner: MakePartner) -> Partner:
    return await make_partner()


@pytest.fixture
def charger(pool: asyncpg.Pool, rds: redis.Redis, keys: Keys, uid: str) -> MakeCharger:
    """Register a charger for a partner and give it a state, as a csms node would have written."""

    async def make(owner: Partner | None, name: str | None = None, **state: str) -> str:
        cp = name or f"CP-{uid}-{next(_counter)}"
        await registry.register_charger(pool, rds, keys, cp, partner_id=owner.id if owner else None)
        if state:
            await rds.hset(keys.charger(cp), mapping=state)
        return cp

    return make


@pytest.fixture
async def fake_node(rds: redis.Redis, keys: Keys) -> AsyncIterator[StartNode]:
    tasks: list[asyncio.Task[None]] = []
    pubsubs: list[Any] = []

    async def start(node_id: str, script: Script) -> FakeNode:
        node = FakeNode(node_id, script)
        pubsub = rds.pubsub()
        await pubsub.subscribe(keys.node_channel(node_id))
        pubsubs.append(pubsub)
        confirmation = await pubsub.get_message(timeout=5)
        assert confirmation is not None and confirmation["type"] == "subscribe"

        async def serve() -> None:
            async for message in pubsub.listen():
                if message["type"] != "message":
                    continue
                request = CommandRequest.model_validate_json(message["data"])
                node.received.append(request)
                reply = node.script(request)
                if reply is not None:
                    await rds.publish(request.reply_to, reply.model_dump_json())

        tasks.append(asyncio.get_running_loop().create_task(serve()))
        return node

    yield start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for pubsub in pubsubs:
        await pubsub.aclose()
