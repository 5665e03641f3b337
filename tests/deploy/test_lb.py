"""The loopback load balancer of `evcs dev`: round robin, failover, WebSockets pass through."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

from evcs.lb import LoadBalancer, parse_address, trial_order


def test_trial_order_is_round_robin_over_healthy_backends_then_the_rest() -> None:
    assert trial_order([True, True, True], 0) == [0, 1, 2]
    assert trial_order([True, True, True], 1) == [1, 2, 0]
    assert trial_order([True, False, True], 1) == [2, 0, 1]
    assert trial_order([False, False], 1) == [1, 0]


def test_parse_address() -> None:
    assert parse_address("127.0.0.1:9001") == ("127.0.0.1", 9001)
    assert parse_address("[::1]:80") == ("::1", 80)
    for bad in ("127.0.0.1", ":80", "host:http"):
        with pytest.raises(ValueError):
            parse_address(bad)


class NamedServer:
    """A TCP server that greets each connection with its name and echoes what it gets."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.server: asyncio.Server | None = None
        self.port = 0
        self.clients: set[asyncio.StreamWriter] = set()

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.clients.add(writer)
        try:
            writer.write(f"{self.name}\n".encode())
            while data := await reader.read(1024):
                writer.write(data)
        except ConnectionError:
            pass
        finally:
            self.clients.discard(writer)
            writer.close()

    async def start(self, port: int = 0) -> None:
        self.server = await asyncio.start_server(self._on_client, "127.0.0.1", port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.clients):
            writer.close()
        await self.server.wait_closed()


@pytest.fixture
async def pair() -> AsyncIterator[tuple[NamedServer, NamedServer, LoadBalancer]]:
    a, b = NamedServer("a"), NamedServer("b")
    await a.start()
    await b.start()
    lb = LoadBalancer([("127.0.0.1", a.port), ("127.0.0.1", b.port)], check_interval=0.05)
    await lb.start("127.0.0.1", 0)
    yield a, b, lb
    await lb.stop()
    for s in (a, b):
        if s.server is not None and s.server.is_serving():
            await s.stop()


async def _greeting(lb: LoadBalancer) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", lb.port)
    try:
        line = await reader.readline()
        writer.write(b"ping\n")
        assert await reader.readline() == b"ping\n"
        return line.decode().strip()
    finally:
        writer.close()


async def test_connections_alternate_between_backends(
    pair: tuple[NamedServer, NamedServer, LoadBalancer],
) -> None:
    *_, lb = pair
    names = [await _greeting(lb) for _ in range(4)]
    assert sorted(names) == ["a", "a", "b", "b"]
    assert names[0] != names[1]


async def test_a_dead_backend_is_skipped_and_rejoins_when_it_is_back(
    pair: tuple[NamedServer, NamedServer, LoadBalancer],
) -> None:
    a, _, lb = pair
    port = a.port
    await a.stop()
    # every new connection still succeeds: the refused backend is skipped at once
    assert [await _greeting(lb) for _ in range(4)] == ["b"] * 4
    assert lb.backends[0].healthy is False

    await a.start(port)
    for _ in range(200):
        if lb.backends[0].healthy:
            break
        await asyncio.sleep(0.02)
    assert lb.backends[0].healthy
    assert "a" in {await _greeting(lb) for _ in range(2)}


async def test_no_backend_closes_the_client_connection(
    pair: tuple[NamedServer, NamedServer, LoadBalancer],
) -> None:
    a, b, lb = pair
    await a.stop()
    await b.stop()
    reader, writer = await asyncio.open_connection("127.0.0.1", lb.port)
    assert await reader.read() == b""
    writer.close()


async def test_a_backend_closing_closes_the_client_side(
    pair: tuple[NamedServer, NamedServer, LoadBalancer],
) -> None:
    a, b, lb = pair
    reader, writer = await asyncio.open_connection("127.0.0.1", lb.port)
    name = (await reader.readline()).decode().strip()
    await (a if name == "a" else b).stop()
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()


async def test_websocket_sessions_pass_through_and_stay_open() -> None:
    async def echo(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(f"{ws.subprotocol}:{message}")

    async with serve(echo, "127.0.0.1", 0, subprotocols=["ocpp1.6"]) as server:  # type: ignore[list-item]
        port = next(iter(server.sockets)).getsockname()[1]
        lb = LoadBalancer([("127.0.0.1", port)])
        await lb.start("127.0.0.1", 0)
        try:
            async with connect(
                f"ws://127.0.0.1:{lb.port}/ocpp/CP-1",
                subprotocols=["ocpp1.6"],  # type: ignore[list-item]
            ) as ws:
                for i in range(50):
                    await ws.send(f"m{i}")
                    assert await ws.recv() == f"ocpp1.6:m{i}"
                assert lb.backends[0].active == 1
            for _ in range(100):
                if lb.backends[0].active == 0:
                    break
                await asyncio.sleep(0.02)
            assert lb.backends[0].active == 0
        finally:
            await lb.stop()


async def test_http_health_path_decides_health() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readline()
        status = b"200 OK" if b"/ok" in request else b"503 Service Unavailable"
        writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\n\r\n")
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        good = LoadBalancer([("127.0.0.1", port)], health_path="/ok")
        bad = LoadBalancer([("127.0.0.1", port)], health_path="/down")
        assert await good.check(good.backends[0]) is True
        assert await bad.check(bad.backends[0]) is False
    finally:
        server.close()
        await server.wait_closed()
