"""The ceiling: a bare WebSocket server that echoes every frame, on the csms's own transport.

`python -m bench.echo PORT [csms|websockets]`: the csms's transport (csms/transport.py:
websockets' Sans-I/O protocol on a bare asyncio.Protocol, uvloop) with an echo handler, or
websockets' asyncio server, which the csms ran on before."""

from __future__ import annotations

import asyncio
import sys

from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from csms.transport import Options, Socket, WsServer

SUBPROTOCOLS = ["ocpp1.6", "ocpp2.0.1"]
MAX_SIZE = 65536


async def _echo(ws: ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


async def _accept(sock: Socket, request: Request) -> Response | None:
    return None


async def _echo_on_transport(sock: Socket) -> None:
    """What ChargerConnection.serve does, with an echo for the csms's work."""

    def echo(message: str | bytes) -> None:
        text = message if isinstance(message, str) else message.decode()
        if not sock.send_now(text) and sock.open:
            asyncio.get_running_loop().create_task(sock.send(text))

    sock.listen(echo)
    await sock.wait_closed()


async def main(port: int, impl: str = "csms") -> None:
    if impl == "csms":
        options = Options(SUBPROTOCOLS, MAX_SIZE, 30.0, 30.0, close_timeout=5.0)
        server = WsServer(_echo_on_transport, _accept, options)
        await server.listen("127.0.0.1", port, ssl_context=None, reuse_port=False, backlog=4096)
        try:
            await asyncio.Future()
        finally:
            server.close()
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
