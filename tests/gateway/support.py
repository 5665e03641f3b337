"""What gateway tests share besides fixtures: handles on a running gateway, partners, the
charger state a csms node would write, and the standard error body check."""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as redis
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.state import NODES
from shared.bus import CommandReply, CommandRequest
from shared.redis_keys import F, Keys

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@dataclass
class Partner:
    id: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"x-api-key": self.key}


class Gateway:
    """A running gateway app and an HTTP client bound to it."""

    def __init__(self, app: web.Application, client: TestClient[Any, Any]) -> None:
        self.app = app
        self.client = client

    async def refresh_nodes(self) -> None:
        await self.app[NODES].refresh()


MakeGateway = Callable[..., Awaitable[Gateway]]
MakePartner = Callable[..., Awaitable[Partner]]
MakeCharger = Callable[..., Awaitable[str]]


def online_state(node: str, protocol: str = "ocpp1.6", **extra: str) -> dict[str, str]:
    return {F.NODE: node, F.ONLINE: "1", F.PROTOCOL: protocol, F.SEEN: repr(time.time()), **extra}


async def mark_alive(rds: redis.Redis, keys: Keys, node: str, gateways: list[Gateway]) -> None:
    await rds.zadd(keys.nodes, {node: time.time() + 60})
    for g in gateways:
        await g.refresh_nodes()


Script = Callable[[CommandRequest], CommandReply | None]


@dataclass
class FakeNode:
    """A csms node reduced to the bus: answers each command as the test's script says."""

    node_id: str
    script: Script
    received: list[CommandRequest] = field(default_factory=list)


StartNode = Callable[[str, Script], Awaitable[FakeNode]]


def assert_error_body(body: dict[str, Any], status: int, error: str, path: str) -> None:
    """The standard error body: statusCode, message, error, timestamp (UTC, Z), path."""
    assert body["statusCode"] == status
    assert body["error"] == error
    assert isinstance(body["message"], str) and body["message"]
    assert ISO_Z.match(body["timestamp"]), body["timestamp"]
    assert body["path"] == path
