"""The ceiling: a bare WebSocket server on the same stack as csms that echoes every frame.

`python -m bench.echo PORT [websockets|sansio]`: the csms's own stack (websockets' asyncio
server on uvloop), or the same library's Sans-I/O protocol on a bare asyncio.Protocol, without
the asyncio layer's task, message queue and send lock per connection (what a faster transport
for the csms would start from)."""

from __future__ import annotations

import asyncio
import sys

from websockets.asyncio.server import ServerConnection, serve
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.server import ServerProtocol

SUBPROTOCOLS = ["ocpp1.6", "ocpp2.0.1"]
MAX_SIZE = 65536


async def _echo(ws: ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


class SansIoEcho(asyncio.Protocol):
    """Each frame echoed from data_received: no task is woken per message."""

    def __init__(self) -> None:
        self._protocol = ServerProtocol(subprotocols=SUBPROTOCOLS, max_size=MAX_SIZE)  # type: ignore[arg-type]
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        protocol = self._protocol
        protocol.receive_data(data)
        for event in protocol.events_received():
            if isinstance(event, Request):
                protocol.send_response(protocol.accept(event))
            elif isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                protocol.send_text(event.data)
        out = protocol.data_to_send()
        if out and self._transport is not None:
            if out[-1] == b"":  # the closing handshake is done: end the TCP connection
                self._transport.write(b"".join(out[:-1]))
                self._transport.close()
            else:
                self._transport.write(b"".join(out))


async def main(port: int, impl: str = "websockets") -> None:
    if impl == "sansio":
        server = await asyncio.get_running_loop().create_server(SansIoEcho, "127.0.0.1", port)
        async with server:
            await asyncio.Future()
        return
    async with serve(
        _echo,
        "127.0.0.1",
        port,
        subprotocols=SUBPROTOCOLS,  # type: ignore[arg-type]
        compression=None,
        ping_interval=30,
        ping_timeout=30,
        max_size=MAX_SIZE,
    ):
        await asyncio.Future()


if __name__ == "__main__":
    import uvloop

    uvloop.run(main(int(sys.argv[1]), *sys.argv[2:3]))
