"""A real csms node on a real port, and a raw OCPP client that sends exactly what a test says."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect

from csms.server import CsmsApp
from shared.settings import Settings


class RawCharger:
    """Sends frames and reads answers; no protocol logic of its own."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self._ids = itertools.count(1)

    async def send_raw(self, data: str | bytes) -> Any:
        await self.ws.send(data)
        return orjson.loads(await self.ws.recv())

    async def call(self, action: str, payload: dict[str, Any]) -> Any:
        message_id = f"m{next(self._ids)}"
        reply = await self.send_raw(orjson.dumps([2, message_id, action, payload]).decode())
        assert reply[1] == message_id, reply
        return reply

    async def recv_call(self) -> list[Any]:
        frame: list[Any] = orjson.loads(await self.ws.recv())
        assert frame[0] == 2, frame
        return frame

    async def answer(self, message_id: str, payload: dict[str, Any]) -> None:
        await self.ws.send(orjson.dumps([3, message_id, payload]).decode())


@pytest.fixture
async def csms(settings: Settings) -> AsyncIterator[CsmsApp]:
    app = CsmsApp(settings.model_copy(update={"csms_port": 0, "node_id": "csms-test"}))
    await app.start()
    yield app
    await app.stop()


Connect = Callable[..., Awaitable[RawCharger]]


@pytest.fixture
async def charger(csms: CsmsApp) -> AsyncIterator[Connect]:
    opened: list[ClientConnection] = []

    async def open_(charger_id: str, protocol: str = "ocpp1.6", **kwargs: Any) -> RawCharger:
        ws = await connect(f"{csms.url}/{charger_id}", subprotocols=[protocol], **kwargs)  # type: ignore[list-item]
        opened.append(ws)
        return RawCharger(ws)

    yield open_
    for ws in opened:
        await ws.close()
