"""What gateway tests share besides fixtures: handles on a running gateway, partners, the
charger state a csms node would write, and the standard error body check."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import redis.asyncio as redis
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient

from gateway.state import NODES
from shared.bus import CommandReply, CommandRequest
from shared.redis_keys import F, Keys
from tests.csms.conftest import RawCharger

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


ADMIN_TOKEN = "test-admin-token-0123456789abcdef0123456789"


LOCAL_LIST = "/api/v1/admin/chargers/{}/local-list"


async def push_local_list(
    gw: Gateway, raw: RawCharger, cp: str, answer: str = "Accepted", **body: str
) -> tuple[dict[str, Any], Any]:
    """An operator POSTs the list; the charger receives SendLocalList and answers `answer`.
    The SendLocalList payload and the API's answer."""
    sent = asyncio.ensure_future(
        gw.client.post(LOCAL_LIST.format(cp), json=body, headers=admin_headers("ops"))
    )
    payload = await answer_local_list(raw, answer)
    resp = await sent
    assert resp.status == 200, await resp.text()
    return payload, await resp.json()


async def answer_local_list(raw: RawCharger, answer: str = "Accepted") -> dict[str, Any]:
    """The next SendLocalList the charger gets (checked against the official schema), answered
    `answer`: its payload."""
    call = await raw.recv_call()
    assert call[2] == "SendLocalList"
    await raw.answer(call[1], {"status": answer})
    payload: dict[str, Any] = call[3]
    return payload


def list_entries16(payload: dict[str, Any]) -> dict[str, Any]:
    """A 1.6 SendLocalList's entries: idTag -> idTagInfo (None: remove it)."""
    return {e["idTag"]: e.get("idTagInfo") for e in payload["localAuthorizationList"]}


def admin_headers(actor: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    if actor:
        headers["X-Actor"] = actor
    return headers


async def eventually(probe: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """Wait for something that happens asynchronously (a pub/sub delivery, a background task)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await probe():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


@dataclass
class SseEvent:
    id: str | None
    event: str | None
    data: str

    def json(self) -> Any:
        return orjson.loads(self.data)


class SseReader:
    """Reads Server-Sent Events off an open response, one at a time (comments skipped)."""

    def __init__(self, response: ClientResponse) -> None:
        self.response = response
        self.retry: int | None = None

    async def next(self, timeout: float = 10.0) -> SseEvent:
        return await asyncio.wait_for(self._next(), timeout)

    async def _next(self) -> SseEvent:
        fields: dict[str, list[str]] = {}
        while True:
            raw = await self.response.content.readline()
            if not raw:
                raise EOFError("the event stream ended")
            line = raw.decode().rstrip("\n")
            if line == "":
                if "data" in fields:
                    return SseEvent(
                        fields.get("id", [None])[-1],
                        fields.get("event", [None])[-1],
                        "\n".join(fields["data"]),
                    )
                fields = {}
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "retry":
                self.retry = int(value)
            else:
                fields.setdefault(name, []).append(value)

    async def events_until(self, predicate: Callable[[SseEvent], bool]) -> list[SseEvent]:
        seen = []
        while True:
            event = await self.next()
            seen.append(event)
            if predicate(event):
                return seen
