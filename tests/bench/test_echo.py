"""The echo ceilings' servers (bench.echo) answer a WebSocket client frame for frame, on the
csms's transport and on websockets' asyncio server."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import connect

from bench import echo
from shared.ports import free_port


@pytest.mark.parametrize("impl", ["csms", "websockets"])
async def test_an_echo_server_sends_each_frame_back_and_closes_cleanly(impl: str) -> None:
    port = free_port()
    server = asyncio.ensure_future(echo.main(port, impl))
    try:
        for _ in range(100):
            try:
                ws = await connect(f"ws://127.0.0.1:{port}/ocpp/X", subprotocols=["ocpp1.6"])  # type: ignore[list-item]
                break
            except OSError:
                await asyncio.sleep(0.05)
        else:
            raise AssertionError("the echo server did not listen")
        assert ws.subprotocol == "ocpp1.6"
        for frame in ('[2,"1","Heartbeat",{}]', "é" * 1000):
            await ws.send(frame)
            assert await asyncio.wait_for(ws.recv(), 5) == frame
        await asyncio.wait_for(ws.close(), 5)
        assert ws.close_code == 1000
    finally:
        server.cancel()
        await asyncio.gather(server, return_exceptions=True)
