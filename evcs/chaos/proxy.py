"""A loopback TCP proxy whose link can be cut: put it between clients and a server, then
`cut("drop")` (a partition: nothing passes either way, connections hang, and what was sent
meanwhile arrives once the link is back, as TCP retransmits it) or `cut("reset")` (every
connection is reset and new ones are refused), and `restore()`."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from typing import Literal

Cut = Literal["drop", "reset"]
CHUNK = 65_536


class LinkProxy:
    def __init__(self, target_host: str, target_port: int = 0) -> None:
        """A target host that starts with "/" is a Unix socket's path (the port unused)."""
        self.target = (target_host, target_port)
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._refusing = False
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()  # both ends of every connection

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = await asyncio.start_server(self._connect, host, port, backlog=1024)

    async def stop(self) -> None:
        """Reset every connection (each one's pumps end with it) and stop listening."""
        if self._server is not None:
            self._server.close()
        self.cut("reset")
        self._flowing.set()  # connections waiting out a partition meet the refusal
        if self._server is not None:
            await self._server.wait_closed()

    def cut(self, how: Cut) -> None:
        if how == "drop":
            self._flowing.clear()
            return
        self._refusing = True
        for writer in list(self._writers):
            _reset(writer)

    def restore(self) -> None:
        self._refusing = False
        self._flowing.set()

    async def _connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._flowing.wait()  # a connection attempt during a partition waits it out
        if self._refusing:
            _reset(writer)
            return
        try:
            if self.target[0].startswith("/"):
                u_reader, u_writer = await asyncio.open_unix_connection(self.target[0])
            else:
                u_reader, u_writer = await asyncio.open_connection(*self.target)
        except OSError:
            _reset(writer)
            return
        self._writers |= {writer, u_writer}
        try:
            # each direction ends on its EOF; a reset ends both (closing an end ends its pump)
            await asyncio.gather(self._pump(reader, u_writer), self._pump(u_reader, writer))
        except OSError:
            pass
        finally:
            self._writers -= {writer, u_writer}
            for end in (writer, u_writer):
                end.close()

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        """Copy until EOF, holding everything while the link is dropped."""
        while True:
            await self._flowing.wait()
            data = await src.read(CHUNK)
            await self._flowing.wait()
            if not data:
                break
            dst.write(data)
            await dst.drain()
        if dst.can_write_eof():
            dst.write_eof()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP reset (SO_LINGER 0), as a lost link looks to the other end."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
