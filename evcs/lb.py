"""A small TCP load balancer for running several csms nodes or gateways on one machine.

Round robin over healthy backends; a backend that refuses a connection is skipped at once and
marked down until its health check passes again. It proxies bytes, not HTTP, so WebSocket
connections pass through untouched and live as long as both ends keep them. For production
use HAProxy or a cloud load balancer (see deploy/).

    python -m evcs.lb --listen 127.0.0.1:9000 --backend 127.0.0.1:9001 --backend 127.0.0.1:9002
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)

CHUNK = 65_536


@dataclass(slots=True)
class Backend:
    host: str
    port: int
    healthy: bool = True
    active: int = 0  # open client connections through it
    total: int = 0  # connections it has taken since start

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def trial_order(healthy: Sequence[bool], cursor: int) -> list[int]:
    """Backends to try for one connection: healthy ones round robin from `cursor`, then the rest
    (a check may lag behind a backend that just came back; trying costs one refused connect)."""
    n = len(healthy)
    rotated = [(cursor + i) % n for i in range(n)]
    return [i for i in rotated if healthy[i]] + [i for i in rotated if not healthy[i]]


def parse_address(value: str) -> tuple[str, int]:
    """'host:port' (or '[v6]:port') -> (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValueError(f"expected host:port, got {value!r}")
    return host.strip("[]"), int(port)


async def _pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    """Copy until EOF, then pass the half-close on."""
    while data := await src.read(CHUNK):
        dst.write(data)
        await dst.drain()
    if dst.can_write_eof():
        dst.write_eof()


class LoadBalancer:
    def __init__(
        self,
        backends: Sequence[tuple[str, int]],
        *,
        health_path: str | None = None,
        check_interval: float = 0.5,
        connect_timeout: float = 2.0,
    ) -> None:
        if not backends:
            raise ValueError("a load balancer needs at least one backend")
        self.backends = [Backend(host, port) for host, port in backends]
        self.health_path = health_path  # None: a TCP connect is the check
        self.check_interval = check_interval
        self.connect_timeout = connect_timeout
        self._cursor = 0
        self._server: asyncio.Server | None = None
        self._checker: asyncio.Task[None] | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self, host: str, port: int) -> None:
        await self.check_all()
        self._server = await asyncio.start_server(self._on_client, host, port, backlog=1024)
        self._checker = asyncio.create_task(self._check_loop())
        log.info(
            "load balancer listening",
            extra={
                "listen": f"{host}:{self.port}",
                "backends": [b.address for b in self.backends],
            },
        )

    async def stop(self) -> None:
        """Stop accepting, then close every proxied connection."""
        if self._server is not None:
            self._server.close()
        if self._checker is not None:
            self._checker.cancel()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(
            *self._pipes, *([self._checker] if self._checker else []), return_exceptions=True
        )
        if self._server is not None:
            await self._server.wait_closed()

    # health ------------------------------------------------------------------------------

    async def check(self, backend: Backend) -> bool:
        try:
            async with asyncio.timeout(self.connect_timeout):
                reader, writer = await asyncio.open_connection(backend.host, backend.port)
                try:
                    if self.health_path is None:
                        return True
                    writer.write(
                        f"GET {self.health_path} HTTP/1.1\r\nHost: {backend.address}\r\n"
                        "Connection: close\r\n\r\n".encode()
                    )
                    await writer.drain()
                    status_line = await reader.readline()
                    return status_line.split(b" ", 2)[1:2] == [b"200"]
                finally:
                    writer.close()
                    with contextlib.suppress(OSError):
                        await writer.wait_closed()
        except (OSError, TimeoutError):
            return False

    async def check_all(self) -> None:
        states = await asyncio.gather(*(self.check(b) for b in self.backends))
        for backend, healthy in zip(self.backends, states, strict=True):
            if healthy != backend.healthy:
                log.info(
                    "backend %s", "up" if healthy else "down", extra={"backend": backend.address}
                )
            backend.healthy = healthy

    async def _check_loop(self) -> None:
        while True:
            await asyncio.sleep(self.check_interval)
            await self.check_all()

    # proxying ----------------------------------------------------------------------------

    async def _connect_backend(
        self,
    ) -> tuple[Backend, asyncio.StreamReader, asyncio.StreamWriter] | None:
        order = trial_order([b.healthy for b in self.backends], self._cursor)
        self._cursor = (self._cursor + 1) % len(self.backends)
        for index in order:
            backend = self.backends[index]
            try:
                async with asyncio.timeout(self.connect_timeout):
                    reader, writer = await asyncio.open_connection(backend.host, backend.port)
            except (OSError, TimeoutError):
                if backend.healthy:
                    log.warning("backend down", extra={"backend": backend.address})
                backend.healthy = False
                continue
            backend.healthy = True
            return backend, reader, writer
        return None

    async def _on_client(
        self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._pipes.add(task)
        try:
            await self._proxy(c_reader, c_writer)
        except asyncio.CancelledError:
            pass  # stop(): the connection ends here; the stream callback must not see it
        finally:
            c_writer.close()
            self._pipes.discard(task)

    async def _proxy(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        connected = await self._connect_backend()
        if connected is None:
            log.warning("no backend available; connection refused")
            return
        backend, b_reader, b_writer = connected
        backend.active += 1
        backend.total += 1
        pumps = [
            asyncio.create_task(_pump(c_reader, b_writer)),
            asyncio.create_task(_pump(b_reader, c_writer)),
        ]
        try:
            # Both directions end on EOF; an error in either (a reset) ends both.
            await asyncio.wait(pumps, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            for t in pumps:
                t.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            backend.active -= 1
            b_writer.close()


async def serve(
    listen: tuple[str, int], backends: Sequence[tuple[str, int]], health_path: str | None
) -> None:
    """Run until SIGTERM or SIGINT."""
    from shared.process import wait_for_signal

    lb = LoadBalancer(backends, health_path=health_path)
    await lb.start(*listen)
    await wait_for_signal()
    await lb.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m evcs.lb", description=__doc__.split("\n")[0])
    parser.add_argument("--listen", type=parse_address, required=True, help="host:port")
    parser.add_argument(
        "--backend", type=parse_address, action="append", required=True, help="host:port (repeat)"
    )
    parser.add_argument("--health-path", help="HTTP path that answers 200 (default: TCP connect)")
    args = parser.parse_args(argv)

    from shared.logging import setup_logging
    from shared.process import run
    from shared.settings import Settings

    settings = Settings()
    setup_logging(settings.log_level, settings.log_format, "lb")
    run(serve(args.listen, args.backend, args.health_path))


if __name__ == "__main__":
    main()
