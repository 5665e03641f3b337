"""A lean HTTP/1.1 keep-alive load generator: pre-built requests, closed loop per connection,
run in worker processes like the WebSocket one."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from functools import partial

from bench.workers import run_in_processes
from bench.wsclient import now_ns


@dataclass
class HttpSpec:
    host: str
    port: int
    requests: list[bytes]  # cycled through
    connections: int = 20
    duration: float = 3.0
    warmup: float = 0.5


@dataclass
class HttpResult:
    answered: int = 0
    non_2xx: int = 0
    latencies_ns: list[int] = field(default_factory=list)
    seconds: float = 0.0


class _Client(asyncio.Protocol):
    def __init__(self, spec: HttpSpec, result: HttpResult, offset: int) -> None:
        self.spec = spec
        self.result = result
        self.i = offset
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.sent_at = 0
        self.running = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.send()

    def send(self) -> None:
        assert self.transport is not None
        requests = self.spec.requests
        self.i = (self.i + 1) % len(requests)
        self.sent_at = now_ns()
        self.transport.write(requests[self.i])

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if len(self.buf) < end + 4 + length:
                return
            del self.buf[: end + 4 + length]
            r = self.result
            r.answered += 1
            if head[9:10] != b"2":
                r.non_2xx += 1
            if len(r.latencies_ns) < 200_000:
                r.latencies_ns.append(now_ns() - self.sent_at)
            if self.running:
                self.send()


async def _run(spec: HttpSpec) -> HttpResult:
    loop = asyncio.get_running_loop()
    result = HttpResult()
    clients = []
    for n in range(spec.connections):
        _, client = await loop.create_connection(
            partial(_Client, spec, result, n), spec.host, spec.port
        )
        clients.append(client)
    await asyncio.sleep(spec.warmup)
    result.answered, result.non_2xx, result.latencies_ns = 0, 0, []
    t0 = loop.time()
    await asyncio.sleep(spec.duration)
    result.seconds = loop.time() - t0
    for c in clients:
        c.running = False
    await asyncio.sleep(0.2)
    for c in clients:
        if c.transport is not None:
            c.transport.close()
    return result


def run_http(specs: list[HttpSpec]) -> list[HttpResult]:
    return run_in_processes(_run, specs, max(s.duration for s in specs) + 60)


def get(path: str, host: str, key: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\nx-api-key: {key}\r\n\r\n".encode()
