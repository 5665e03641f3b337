"""A lean WebSocket client for load generation: pre-built masked frames, no per-message
allocation beyond reading. Only what a charger simulator at scale needs; not a library."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct
import time
from collections.abc import Callable


def masked_text_frame(payload: bytes, mask: bytes = b"\x5a\xa5\x3c\xc3") -> bytes:
    """A client text frame (FIN, opcode 1) with a fixed mask: built once, sent many times."""
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", 0x81, 0x80 | n)
    elif n < 65536:
        header = struct.pack("!BBH", 0x81, 0x80 | 126, n)
    else:
        header = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
    # one big-integer XOR instead of a Python loop per byte: fresh frames are built per send
    key = (mask * (n // 4 + 1))[:n]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")
    return header + mask + masked


class FrameCounter(asyncio.Protocol):
    """Counts complete server frames; calls `on_frame(payload)` for each text frame."""

    def __init__(self, on_frame: Callable[[bytes], None]) -> None:
        self.on_frame = on_frame
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.handshake: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._upgraded = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no asyncio.Transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self._upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end])
            del self.buffer[: end + 4]
            self._upgraded = True
            if not self.handshake.done():
                self.handshake.set_result(head)
        buf = self.buffer
        while len(buf) >= 2:
            length = buf[1] & 0x7F
            offset = 2
            if length == 126:
                if len(buf) < 4:
                    return
                length = struct.unpack_from("!H", buf, 2)[0]
                offset = 4
            elif length == 127:
                if len(buf) < 10:
                    return
                length = struct.unpack_from("!Q", buf, 2)[0]
                offset = 10
            if len(buf) < offset + length:
                return
            opcode = buf[0] & 0x0F
            if opcode == 1:
                self.on_frame(bytes(buf[offset : offset + length]))
            elif opcode == 9 and self.transport is not None:  # ping -> pong, masked, same payload
                payload = bytes(buf[offset : offset + length])
                self.transport.write(bytes([0x8A, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)
            elif opcode == 8 and self.transport is not None:
                # the server's close: echoed as a client does, or the server waits its close
                # timeout before it lets go (a restart would then take that long to reach us)
                payload = bytes(buf[offset : offset + length])
                self.transport.write(bytes([0x88, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)
            del buf[: offset + length]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.handshake.done():
            self.handshake.set_exception(exc or ConnectionError("closed during handshake"))
        if not self.closed.done():
            self.closed.set_result(None)


async def open_ws(
    host: str,
    port: int,
    path: str,
    subprotocol: str,
    on_frame: Callable[[bytes], None],
    local_addr: tuple[str, int] | None = None,
) -> FrameCounter:
    """Connect and upgrade; raises if the server refuses."""
    loop = asyncio.get_running_loop()
    sock = None if local_addr is None else await _connected_from(host, port, local_addr[0])
    if sock is None:
        _, proto = await loop.create_connection(lambda: FrameCounter(on_frame), host, port)
    else:
        _, proto = await loop.create_connection(lambda: FrameCounter(on_frame), sock=sock)
    key = base64.b64encode(os.urandom(16)).decode()
    assert proto.transport is not None
    proto.transport.write(
        (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Protocol: {subprotocol}\r\n\r\n"
        ).encode()
    )
    head = await asyncio.wait_for(proto.handshake, 30)
    if not head.startswith(b"HTTP/1.1 101"):
        proto.transport.close()
        raise ConnectionError(head.split(b"\r\n", 1)[0].decode(errors="replace"))
    return proto


# Linux: choose the source port at connect(), by the whole 4-tuple, not at bind(). A bind() to
# port 0 takes a port for itself and searches the range for one; with tens of thousands of
# sockets (and their TIME_WAIT twins after a storm) that search cost the load generator more
# kernel CPU per connection than the csms spent serving it.
_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)


async def _connected_from(host: str, port: int, source_ip: str) -> socket.socket:
    """A TCP socket connected to host:port from source_ip."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_IP, _BIND_ADDRESS_NO_PORT, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((source_ip, 0))
        await asyncio.get_running_loop().sock_connect(sock, (host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def now_ns() -> int:
    return time.perf_counter_ns()
