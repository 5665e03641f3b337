"""A real csms node on a real port, and a raw OCPP client that sends exactly what a test says."""

from __future__ import annotations

import asyncio
import base64
import itertools
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import pytest
import redis.asyncio as redis
from websockets.asyncio.client import ClientConnection, connect

from csms.server import CsmsApp
from shared.bus import Action, CommandReply, CommandRequest
from shared.redis_keys import Keys
from shared.settings import Settings
from tests.csms import strict


class RawCharger:
    """Sends frames and reads answers; no protocol logic of its own. Every frame the csms
    sends is checked strictly against the official schemas (tests/csms/strict.py)."""

    def __init__(self, ws: ClientConnection, protocol: str = "ocpp1.6") -> None:
        self.ws = ws
        self.protocol = protocol
        self._ids = itertools.count(1)

    async def send_raw(self, data: str | bytes, action: str | None = None) -> Any:
        await self.ws.send(data)
        reply = orjson.loads(await self.ws.recv())
        strict.check_reply(self.protocol, action, reply)
        return reply

    async def call(self, action: str, payload: dict[str, Any]) -> Any:
        message_id = f"m{next(self._ids)}"
        reply = await self.send_raw(orjson.dumps([2, message_id, action, payload]).decode(), action)
        assert reply[1] == message_id, reply
        return reply

    async def recv_call(self) -> list[Any]:
        frame: list[Any] = orjson.loads(await self.ws.recv())
        strict.check_call(self.protocol, frame)
        return frame

    async def answer(self, message_id: str, payload: dict[str, Any]) -> None:
        await self.ws.send(orjson.dumps([3, message_id, payload]).decode())


@pytest.fixture
async def csms(settings: Settings) -> AsyncIterator[CsmsApp]:
    app = CsmsApp(settings.model_copy(update={"csms_port": 0, "node_id": "csms-test"}))
    await app.start()
    yield app
    await app.stop()


StartCsms = Callable[..., Awaitable[CsmsApp]]


@pytest.fixture
async def start_csms(settings: Settings) -> AsyncIterator[StartCsms]:
    """Start nodes with their own settings (node_id, boot policy, ...); all stop at the end."""
    apps: list[CsmsApp] = []

    async def start(**overrides: Any) -> CsmsApp:
        app = CsmsApp(settings.model_copy(update={"csms_port": 0, **overrides}))
        await app.start()
        apps.append(app)
        return app

    yield start
    for app in apps:
        if app.node.closing:
            continue  # the test stopped it
        await app.stop()


async def open_raw(
    app: CsmsApp, charger_id: str, protocol: str = "ocpp1.6", **kwargs: Any
) -> RawCharger:
    ws = await connect(f"{app.url}/{charger_id}", subprotocols=[protocol], **kwargs)  # type: ignore[list-item]
    return RawCharger(ws, protocol)


BOOTS = {
    "ocpp1.6": {"chargePointVendor": "V", "chargePointModel": "M"},
    "ocpp2.0.1": {"reason": "PowerUp", "chargingStation": {"vendorName": "V", "model": "M"}},
}


async def open_booted(app: CsmsApp, charger_id: str, protocol: str = "ocpp1.6") -> RawCharger:
    """A raw charger that has sent its BootNotification (and had it answered)."""
    raw = await open_raw(app, charger_id, protocol)
    await raw.call("BootNotification", BOOTS[protocol])
    return raw


Connect = Callable[..., Awaitable[RawCharger]]


@pytest.fixture
async def charger(csms: CsmsApp) -> AsyncIterator[Connect]:
    opened: list[ClientConnection] = []

    async def open_(charger_id: str, protocol: str = "ocpp1.6", **kwargs: Any) -> RawCharger:
        ws = await connect(f"{csms.url}/{charger_id}", subprotocols=[protocol], **kwargs)  # type: ignore[list-item]
        opened.append(ws)
        return RawCharger(ws, protocol)

    yield open_
    for ws in opened:
        await ws.close()


@pytest.fixture
async def replies(
    rds: redis.Redis, keys: Keys, uid: str
) -> AsyncIterator[tuple[str, asyncio.Queue[CommandReply]]]:
    channel = keys.reply_channel(f"gw-{uid}")
    queue: asyncio.Queue[CommandReply] = asyncio.Queue()
    pubsub = rds.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(channel)

    async def pump() -> None:
        async for message in pubsub.listen():
            if message["type"] == "message":
                queue.put_nowait(CommandReply.model_validate_json(message["data"]))

    task = asyncio.create_task(pump())
    yield channel, queue
    task.cancel()
    await pubsub.aclose()


Command = Callable[..., Awaitable[CommandReply]]


@pytest.fixture
async def command(
    rds: redis.Redis, keys: Keys, replies: tuple[str, asyncio.Queue[CommandReply]]
) -> Command:
    """Publish a command to a node as a gateway would, and wait for its reply."""
    channel, queue = replies

    async def run(
        node_id: str,
        charger_id: str,
        action: Action,
        params: dict[str, Any] | None = None,
        timeout: float = 5.0,
    ) -> CommandReply:
        request = CommandRequest(
            id=f"cmd-{secrets.token_hex(4)}",
            reply_to=channel,
            charger_id=charger_id,
            action=action,
            params=params or {},
            timeout=timeout,
        )
        await rds.publish(keys.node_channel(node_id), request.model_dump_json())
        while True:
            reply = await asyncio.wait_for(queue.get(), timeout + 5)
            if reply.id == request.id:
                return reply

    return run


async def until(check: Callable[[], Awaitable[object]], timeout: float = 5.0) -> None:
    """Wait for a condition the system reaches on its own; fails the test after `timeout`."""
    async with asyncio.timeout(timeout):
        while not await check():  # noqa: ASYNC110 - polling keeps the csms free of test hooks
            await asyncio.sleep(0.02)


async def open_upgraded(
    port: int, path: str, protocol: str = "ocpp1.6"
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A bare TCP client that completes the WebSocket upgrade, then does only what the test
    says: no pongs, no closing handshake, no reading unless asked."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Protocol: {protocol}\r\n\r\n"
        ).encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    return reader, writer
