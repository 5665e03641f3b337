"""The csms's WebSocket server on real sockets: upgrade, messages whole and in order, keep-alive,
closing, and a peer that reads or writes too slowly or sends what RFC 6455 forbids."""

from __future__ import annotations

import asyncio
import gc
import socket
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.frames import Close, Frame, Opcode
from websockets.http11 import Request, Response

from csms.transport import Options, Socket, WsServer
from tests.csms.conftest import open_upgraded, until

OPTIONS = Options(
    subprotocols=["ocpp1.6"],
    max_size=1024,
    ping_interval=30.0,
    ping_timeout=30.0,
    close_timeout=0.5,
    open_timeout=0.5,
)


async def _accept(sock: Socket, request: Request) -> Response | None:
    return None


async def _echo(sock: Socket) -> None:
    """Each message sent back from the read itself, as the csms answers."""

    def echo(message: str | bytes) -> None:
        text = message if isinstance(message, str) else message.decode()
        if not sock.send_now(text):
            asyncio.get_running_loop().create_task(sock.send(text))

    sock.listen(echo)
    await sock.wait_closed()


Serve = Callable[..., Awaitable[WsServer]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    servers: list[WsServer] = []

    async def start(
        handler: Callable[[Socket], Awaitable[None]] = _echo,
        process_request: Callable[[Socket, Request], Awaitable[Response | None]] = _accept,
        **options: Any,
    ) -> WsServer:
        server = WsServer(handler, process_request, replace(OPTIONS, **options))
        await server.listen("127.0.0.1", 0, ssl_context=None, reuse_port=False, backlog=16)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()
        for sock in list(server.sockets):
            await sock.close(1001)
        await asyncio.wait_for(server.wait_closed(), 5)


def _url(server: WsServer) -> str:
    return f"ws://127.0.0.1:{server.listening[0].getsockname()[1]}/ocpp/T"


async def _raw(server: WsServer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await open_upgraded(server.listening[0].getsockname()[1], "/ocpp/T")


def _frame(opcode: Opcode, data: bytes, fin: bool = True) -> bytes:
    return Frame(opcode, data, fin).serialize(mask=True, extensions=[])


async def _read_frame(reader: asyncio.StreamReader) -> tuple[Opcode, bytes]:
    """The server's next frame (unmasked, as a server sends it)."""
    head = await reader.readexactly(2)
    opcode, size = head[0] & 0x0F, head[1] & 0x7F
    if size == 126:
        size = int.from_bytes(await reader.readexactly(2), "big")
    elif size == 127:
        size = int.from_bytes(await reader.readexactly(8), "big")
    return Opcode(opcode), await reader.readexactly(size)


async def _read_close(reader: asyncio.StreamReader) -> int:
    """Skips frames up to the server's close frame and returns its code."""
    while True:
        opcode, data = await _read_frame(reader)
        if opcode is Opcode.CLOSE:
            return Close.parse(data).code


async def test_messages_come_back_whole_and_in_order(serve: Serve) -> None:
    server = await serve()
    async with connect(_url(server), subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "ocpp1.6"
        for i in range(50):
            await ws.send(f"m{i}")
        assert [await ws.recv() for _ in range(50)] == [f"m{i}" for i in range(50)]


async def test_answers_of_every_length_form_are_valid_frames(serve: Serve) -> None:
    """7-bit, 16-bit and 64-bit payload lengths, checked by a strict client."""
    server = await serve(max_size=100_000)
    async with connect(
        _url(server),
        subprotocols=["ocpp1.6"],  # type: ignore[list-item]
        max_size=None,
    ) as ws:
        for n in (0, 125, 126, 65535, 65536, 70_000):
            message = "é" * (n // 2) + "x" * (n % 2)  # UTF-8: the length is in bytes
            await ws.send(message)
            assert await ws.recv() == message


async def test_a_fragmented_message_is_read_as_one(serve: Serve) -> None:
    server = await serve()
    async with connect(_url(server), subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
        await ws.send(["[2, ", '"f1", ', '"Heartbeat", {}]'])
        assert await ws.recv() == '[2, "f1", "Heartbeat", {}]'


async def test_a_binary_message_is_handed_on_as_bytes(serve: Serve) -> None:
    got: list[str | bytes] = []

    async def keep(sock: Socket) -> None:
        def hold(message: str | bytes) -> None:
            got.append(message)
            sock.send_now("ok")

        sock.listen(hold)
        await sock.wait_closed()

    server = await serve(keep)
    async with connect(_url(server), subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
        await ws.send(b"\x00\x01")
        assert await ws.recv() == "ok"
    assert got == [b"\x00\x01"]


async def test_invalid_utf8_in_a_text_message_closes_with_1007(serve: Serve) -> None:
    server = await serve()
    reader, writer = await _raw(server)
    writer.write(_frame(Opcode.TEXT, b"ok \xff\xfe"))
    assert await _read_close(reader) == 1007
    assert await reader.read() == b""  # and the server ends the TCP connection
    writer.close()


async def test_a_message_over_the_limit_closes_with_1009(serve: Serve) -> None:
    server = await serve()
    async with connect(_url(server), subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
        await ws.send(["x" * 600, "x" * 600])  # each fragment fits, the message does not
        with pytest.raises(ConnectionClosed):
            await ws.recv()
        assert ws.close_code == 1009


async def test_a_request_that_is_not_an_upgrade_is_refused(serve: Serve) -> None:
    server = await serve()
    port = server.listening[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /ocpp/T HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    answer = await reader.read()  # the whole answer, then the server closes
    assert answer.startswith(b"HTTP/1.1 426")
    writer.close()


async def test_the_request_handler_may_refuse_with_its_own_answer(serve: Serve) -> None:
    async def refuse(sock: Socket, request: Request) -> Response:
        return sock.reject(403, "not you\n")

    server = await serve(process_request=refuse)
    with pytest.raises(InvalidStatus) as refused:
        await connect(_url(server), subprotocols=["ocpp1.6"])  # type: ignore[list-item]
    assert refused.value.response.status_code == 403
    assert refused.value.response.body == b"not you\n"


async def test_a_failing_request_handler_answers_500(serve: Serve) -> None:
    async def broken(sock: Socket, request: Request) -> Response:
        raise RuntimeError("a bug")

    server = await serve(process_request=broken)
    with pytest.raises(InvalidStatus) as refused:
        await connect(_url(server), subprotocols=["ocpp1.6"])  # type: ignore[list-item]
    assert refused.value.response.status_code == 500
    assert b"a bug" not in refused.value.response.body


async def test_a_request_never_finished_is_dropped_after_the_open_timeout(serve: Serve) -> None:
    server = await serve()
    port = server.listening[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /ocpp/T HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and nothing more
    assert await asyncio.wait_for(reader.read(), 5) == b""
    assert not server.sockets
    writer.close()


async def test_a_peer_that_answers_pings_stays_connected(serve: Serve) -> None:
    server = await serve(ping_interval=0.05, ping_timeout=2.0)
    async with connect(
        _url(server),
        subprotocols=["ocpp1.6"],  # type: ignore[list-item]
        ping_interval=None,  # only the server pings
    ) as ws:
        await asyncio.sleep(0.5)  # ten pings' worth: the test is what did not happen
        await ws.send("still here")
        assert await ws.recv() == "still here"


async def test_a_silent_peer_is_pinged_every_interval(serve: Serve) -> None:
    server = await serve(ping_interval=0.05, ping_timeout=2.0)
    reader, writer = await _raw(server)
    pings = 0
    while pings < 3:  # each pong answered, then silence again: pinged again
        opcode, data = await asyncio.wait_for(_read_frame(reader), 5)
        if opcode is Opcode.PING:
            pings += 1
            writer.write(_frame(Opcode.PONG, data))
    writer.close()


async def test_a_peer_that_comes_after_every_other_has_gone_is_pinged_too(
    serve: Serve,
) -> None:
    """One sweep looks for the silent connections of a server, not a timer each; it ends with
    the last connection and starts again with the next."""
    server = await serve(ping_interval=0.05, ping_timeout=2.0)
    for _ in range(2):
        reader, writer = await _raw(server)
        while (await asyncio.wait_for(_read_frame(reader), 5))[0] is not Opcode.PING:
            pass
        writer.close()
        await asyncio.wait_for(_until(lambda: not server.sockets), 5)


async def test_a_ping_that_fails_ends_its_connection_and_spares_the_others(
    serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[Socket] = []

    async def hold(sock: Socket) -> None:
        opened.append(sock)
        await sock.wait_closed()

    ping = Socket._ping

    def failing_for_the_first(sock: Socket) -> None:
        if sock is opened[0]:
            raise RuntimeError("a bug in one connection's keep-alive")
        ping(sock)

    monkeypatch.setattr(Socket, "_ping", failing_for_the_first)
    server = await serve(hold, ping_interval=0.05, ping_timeout=2.0)
    first_reader, _ = await _raw(server)
    await asyncio.wait_for(_until(lambda: len(opened) == 1), 5)
    second_reader, second_writer = await _raw(server)
    assert await asyncio.wait_for(first_reader.read(), 5) == b""  # aborted
    while (await asyncio.wait_for(_read_frame(second_reader), 5))[0] is not Opcode.PING:
        pass
    second_writer.close()


async def test_a_peer_that_keeps_talking_is_not_pinged(serve: Serve) -> None:
    """Its messages show it is alive: a fleet on duty costs no pings. (A ping here would go
    unanswered and end the connection after ping_timeout.)"""
    server = await serve(ping_interval=0.8, ping_timeout=0.3)
    reader, writer = await _raw(server)
    seen: list[Opcode] = []
    until = asyncio.get_running_loop().time() + 2.5  # three intervals
    while asyncio.get_running_loop().time() < until:
        writer.write(_frame(Opcode.TEXT, b'[2,"1","Heartbeat",{}]'))
        while True:
            opcode, _ = await asyncio.wait_for(_read_frame(reader), 5)
            seen.append(opcode)
            if opcode is Opcode.TEXT:
                break
        await asyncio.sleep(0.05)
    assert Opcode.PING not in seen
    assert Opcode.CLOSE not in seen
    writer.close()


async def test_a_peer_that_does_not_answer_pings_is_closed_with_1011(serve: Serve) -> None:
    ended = asyncio.Event()

    async def until_closed(sock: Socket) -> None:
        await _echo(sock)
        ended.set()

    server = await serve(until_closed, ping_interval=0.05, ping_timeout=0.1)
    reader, writer = await _raw(server)  # reads, but never answers a ping
    assert await asyncio.wait_for(_read_close(reader), 5) == 1011
    await asyncio.wait_for(ended.wait(), 5)
    writer.close()


async def test_a_ping_from_the_peer_is_answered(serve: Serve) -> None:
    server = await serve()
    async with connect(_url(server), subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
        pong = await ws.ping(b"are you there")
        await asyncio.wait_for(pong, 5)


async def test_the_server_closes_with_a_handshake_and_waits_for_tcp(serve: Serve) -> None:
    opened: list[Socket] = []

    async def hold(sock: Socket) -> None:
        opened.append(sock)
        await _echo(sock)

    server = await serve(hold)
    async with connect(_url(server), subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
        await ws.send("hello")
        await ws.recv()
        await opened[0].close(1001, "going away")
        assert opened[0].close_code == 1001
        with pytest.raises(ConnectionClosed):
            await ws.recv()
        assert ws.close_code == 1001 and ws.close_reason == "going away"


async def test_a_peer_that_ignores_the_close_is_cut_off(serve: Serve) -> None:
    opened: list[Socket] = []

    async def hold(sock: Socket) -> None:
        opened.append(sock)
        await _echo(sock)

    server = await serve(hold)  # close_timeout 0.5 s
    reader, writer = await _raw(server)
    await asyncio.wait_for(_until(lambda: bool(opened)), 5)
    await asyncio.wait_for(opened[0].close(1001), 5)  # returns: aborted, not left waiting
    assert await _read_close(reader) == 1001
    writer.close()


async def test_a_peer_that_closes_gets_its_close_echoed(serve: Serve) -> None:
    server = await serve()
    reader, writer = await _raw(server)
    writer.write(_frame(Opcode.CLOSE, Close(1000, "bye").serialize()))
    assert await _read_close(reader) == 1000
    assert await reader.read() == b""
    writer.close()


async def test_writes_wait_while_the_peer_does_not_read(serve: Serve) -> None:
    chunk = "y" * 60_000
    sent = asyncio.Event()

    async def flood(sock: Socket) -> None:
        for _ in range(200):  # 12 MB: far more than the socket buffers take
            await sock.send(chunk)
        sent.set()

    server = await serve(flood)
    reader, writer = await _raw(server)
    await _until(lambda: bool(server.sockets) and not next(iter(server.sockets)).writing)
    assert not sent.is_set()
    (sock,) = server.sockets
    assert sock.transport.get_write_buffer_size() < 1_000_000
    total = 0
    while total < 200 * len(chunk):
        head = await reader.readexactly(2)
        assert head[1] & 0x7F == 126 or head[1] & 0x7F == 127
        size = int.from_bytes(await reader.readexactly(2 if head[1] & 0x7F == 126 else 8), "big")
        total += len(await reader.readexactly(size))
    await asyncio.wait_for(sent.wait(), 5)
    writer.close()


async def test_a_paused_socket_is_read_no_further_and_resumes_losing_nothing(
    serve: Serve,
) -> None:
    got: list[str | bytes] = []

    async def pausing(sock: Socket) -> None:
        def take(message: str | bytes) -> None:
            got.append(message)
            if len(got) == 10:
                sock.pause_reading()

        sock.listen(take)
        await sock.wait_closed()

    server = await serve(pausing)
    _, writer = await _raw(server)
    writer.write(b"".join(_frame(Opcode.TEXT, f"m{i}".encode()) for i in range(10)))
    await asyncio.wait_for(_until(lambda: len(got) == 10), 5)
    (sock,) = server.sockets
    assert not sock.reading
    writer.write(b"".join(_frame(Opcode.TEXT, f"m{i}".encode()) for i in range(10, 500)))
    await writer.drain()
    await asyncio.sleep(0.1)  # what must not happen: a read while paused
    assert len(got) == 10
    sock.resume_reading()
    await asyncio.wait_for(_until(lambda: len(got) == 500), 5)
    assert got == [f"m{i}" for i in range(500)]
    writer.close()


async def test_messages_read_before_the_handler_listens_are_kept_for_it(serve: Serve) -> None:
    go = asyncio.Event()
    got: list[str | bytes] = []

    async def late(sock: Socket) -> None:
        await go.wait()
        sock.listen(got.append)
        await sock.wait_closed()

    server = await serve(late)
    _, writer = await _raw(server)
    writer.write(b"".join(_frame(Opcode.TEXT, f"m{i}".encode()) for i in range(100)))
    await writer.drain()
    await _until(lambda: bool(server.sockets) and not next(iter(server.sockets)).reading)
    go.set()
    await asyncio.wait_for(_until(lambda: len(got) == 100), 5)
    assert got == [f"m{i}" for i in range(100)]
    writer.close()


async def test_a_handshake_while_the_server_closes_gets_503(serve: Serve) -> None:
    server = await serve()
    async with connect(_url(server), subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
        server.closing = True  # what close() sets, without closing the listening socket
        with pytest.raises(InvalidStatus) as refused:
            await connect(_url(server), subprotocols=["ocpp1.6"])  # type: ignore[list-item]
        assert refused.value.response.status_code == 503
        await ws.send("open ones carry on")
        assert await ws.recv() == "open ones carry on"


async def test_a_failing_listener_closes_with_1011(serve: Serve) -> None:
    async def broken(sock: Socket) -> None:
        def fail(message: str | bytes) -> None:
            raise RuntimeError("a bug")

        sock.listen(fail)
        await sock.wait_closed()

    server = await serve(broken)
    async with connect(_url(server), subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
        await ws.send("hello")
        with pytest.raises(ConnectionClosed):
            await ws.recv()
        assert ws.close_code == 1011


async def _until(check: Callable[[], bool]) -> None:
    while not check():  # noqa: ASYNC110 - the server has no hook to wait on
        await asyncio.sleep(0.01)


async def test_a_peer_that_pings_but_never_reads_is_read_no_further(serve: Serve) -> None:
    """Each ping calls for a pong: from a peer that does not read, they would pile up in the
    server's memory. Once the socket takes no more writes, the server reads no more either."""
    server = await serve()
    _, writer = await _raw(server)  # never read
    writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    [sock] = server.sockets
    pings = _frame(Opcode.PING, b"x" * 125) * 64

    async def flood() -> None:
        for _ in range(4000):  # 32 MB of pings, ~28 MB of pongs
            writer.write(pings)
            await writer.drain()

    async def not_reading() -> bool:
        return not sock.transport.is_reading()

    flooding = asyncio.create_task(flood())
    try:
        await until(not_reading, 10)
        assert sock.transport.get_write_buffer_size() < 1_000_000
    finally:
        flooding.cancel()
        writer.transport.abort()


@pytest.mark.parametrize("paused", ["before the ping", "after the ping"])
async def test_a_peer_we_do_not_read_is_not_closed_for_a_silence_of_ours(
    serve: Serve, paused: str
) -> None:
    """While the csms reads no further (its store is slow), a charger's pong would sit unread
    in the socket: the keep-alive waits for reading to resume instead of closing with 1011."""
    got: list[str | bytes] = []
    socks: list[Socket] = []

    async def pausing(sock: Socket) -> None:
        socks.append(sock)
        sock.listen(got.append)
        await sock.wait_closed()

    server = await serve(pausing, ping_interval=0.05, ping_timeout=0.5)
    reader, writer = await _raw(server)
    await asyncio.wait_for(_until(lambda: bool(socks)), 5)
    [sock] = socks
    if paused == "after the ping":  # unanswered, the ping's timeout runs while paused
        opcode, _ = await asyncio.wait_for(_read_frame(reader), 5)
        assert opcode is Opcode.PING
    sock.pause_reading()
    await asyncio.sleep(1.5)  # thirty intervals, three timeouts: the test is what did not happen
    assert sock.open
    sock.resume_reading()
    writer.write(_frame(Opcode.TEXT, b"still here"))
    await asyncio.wait_for(_until(lambda: got == ["still here"]), 5)
    # reading again, the keep-alive holds the peer to its pongs once more
    assert await asyncio.wait_for(_read_close(reader), 5) == 1011
    writer.close()


@pytest.mark.parametrize("how", ["closes", "drops"])
async def test_an_ended_connection_is_freed_without_the_cycle_collector(
    serve: Serve, how: str
) -> None:
    """What a connection held goes by reference counting as it ends, even when its listener
    refers back to it and the peer vanished mid-stream: the cycles 19,000 dropped chargers
    left had a full collection stop one csms for 1.7 s in the middle of their reconnection."""
    held: list[weakref.ref[Any]] = []
    ended = asyncio.Event()

    async def handler(sock: Socket) -> None:
        held.extend((weakref.ref(sock), weakref.ref(sock.ws)))
        try:
            await _echo(sock)  # its listener keeps `sock`, as a charger's connection does
        finally:
            ended.set()

    server = await serve(handler)
    gc.collect()
    gc.disable()
    try:
        reader, writer = await _raw(server)
        writer.write(_frame(Opcode.TEXT, b"[]"))
        assert await _read_frame(reader) == (Opcode.TEXT, b"[]")
        if how == "drops":
            writer.transport.abort()  # no close frame: the server's parser meets the end
        else:
            writer.write(_frame(Opcode.CLOSE, Close(1000, "bye").serialize()))
            assert await _read_close(reader) == 1000
            writer.close()
        await asyncio.wait_for(ended.wait(), 5)
        await asyncio.wait_for(_until(lambda: not server.sockets), 5)
        await asyncio.wait_for(_until(lambda: all(ref() is None for ref in held)), 5)
    finally:
        gc.enable()


async def test_a_wait_for_the_close_given_up_leaves_the_others_waiting(serve: Serve) -> None:
    opened: list[Socket] = []

    async def handler(sock: Socket) -> None:
        opened.append(sock)
        await sock.wait_closed()

    server = await serve(handler)
    _, writer = await _raw(server)
    await asyncio.wait_for(_until(lambda: bool(opened)), 5)
    given_up, kept = opened[0].wait_closed(), opened[0].wait_closed()
    given_up.cancel()
    assert not kept.done()
    writer.transport.abort()
    await asyncio.wait_for(kept, 5)
    await asyncio.wait_for(_until(lambda: not server.sockets), 5)
    assert opened[0].wait_closed().done()  # and a wait that begins after the close is over
