"""What chargers send is read after the loop has dispatched every socket that was ready, in
slices of bounded length, in the order it came; a socket whose listener awaits an answer
(`prompt`) is read in the dispatch itself, after anything it had left unread."""

from __future__ import annotations

import asyncio

import pytest

from csms import transport
from csms.transport import Socket, WsServer
from tests.csms.test_transport import OPTIONS
from tests.csms.test_transport_frames import REQUEST, _accept, _frame, _Wire


async def _sockets(n: int) -> tuple[WsServer, list[Socket], list[tuple[int, str | bytes]]]:
    """A server with `n` upgraded sockets, each handing its messages to `got` with its index."""
    got: list[tuple[int, str | bytes]] = []
    socks: list[Socket] = []
    listening = asyncio.Event()

    async def handler(sock: Socket) -> None:
        index = socks.index(sock)
        sock.listen(lambda message: got.append((index, message)))
        if all(s._listener is not None for s in socks):
            listening.set()
        await sock.wait_closed()

    server = WsServer(handler, _accept, OPTIONS)
    socks += [Socket(server) for _ in range(n)]
    for sock in socks:
        sock.connection_made(_Wire())
        sock.data_received(REQUEST)
    await asyncio.wait_for(listening.wait(), 5)
    return server, socks, got


def _msg(text: str) -> bytes:
    return _frame(0x1, text.encode())


async def _close(server: WsServer, socks: list[Socket]) -> None:
    for sock in socks:
        sock.connection_lost(None)
    await asyncio.wait_for(server.wait_closed(), 5)


async def test_a_read_is_handed_on_after_the_dispatch_in_the_order_it_came(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(transport, "SLICE", 10.0)  # one slice, however slow the machine
    server, socks, got = await _sockets(2)
    socks[0].data_received(_msg("a1"))
    socks[1].data_received(_msg("b1"))
    socks[0].data_received(_msg("a2") + _msg("a3"))
    assert got == []  # nothing yet: the loop reads them once it has dispatched the rest
    await asyncio.sleep(0)
    assert got == [(0, "a1"), (0, "a2"), (0, "a3"), (1, "b1")]
    await _close(server, socks)


async def test_a_prompt_socket_is_read_at_once_after_what_it_left_unread() -> None:
    server, socks, got = await _sockets(2)
    socks[1].data_received(_msg("telemetry"))
    socks[0].data_received(_msg("before"))
    socks[0].prompt = True  # its listener now waits for an answer on it
    socks[0].data_received(_msg("answer"))
    assert got == [(0, "before"), (0, "answer")]
    socks[0].data_received(_msg("next"))
    assert got[-1] == (0, "next")
    await asyncio.sleep(0)
    assert got == [(0, "before"), (0, "answer"), (0, "next"), (1, "telemetry")]
    await _close(server, socks)


async def test_a_slice_that_runs_out_of_time_leaves_the_rest_to_the_next(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(transport, "SLICE", 0.0)  # one socket a slice
    server, socks, got = await _sockets(3)
    for i, sock in enumerate(socks):
        sock.data_received(_msg(f"m{i}"))
    seen = []
    for _ in range(3):
        await asyncio.sleep(0)  # one turn of the loop: one slice, then the loop polls again
        seen.append(len(got))
    assert seen == [1, 2, 3]
    assert [i for i, _ in got] == [0, 1, 2]
    await _close(server, socks)


async def test_what_was_left_unread_when_the_peer_closes_is_still_handed_on() -> None:
    server, socks, got = await _sockets(1)
    sock = socks[0]
    sock.data_received(_msg("last words") + _frame(0x9, b"ping"))
    wire = sock.transport
    written = len(wire.out)
    sock.connection_lost(None)
    assert got == [(0, "last words")]
    assert len(wire.out) == written  # no pong, nor anything else, to a closed connection
    assert not sock.send_now("an answer")
    await asyncio.wait_for(server.wait_closed(), 5)


async def test_a_socket_that_sends_more_than_the_limit_before_its_slice_is_read_no_further(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, socks, got = await _sockets(1)
    sock, wire = socks[0], socks[0].transport
    paused: list[bool] = []
    monkeypatch.setattr(wire, "pause_reading", lambda: paused.append(True), raising=False)
    monkeypatch.setattr(wire, "resume_reading", lambda: paused.append(False), raising=False)
    chunk = b"".join(_msg("x" * 1000) for _ in range(16))  # ~16 KiB
    for _ in range(transport.UNREAD_LIMIT // len(chunk)):
        sock.data_received(chunk)
    assert paused == []
    sock.data_received(chunk)  # past the limit: not read until what it sent is handed on
    assert paused == [True]
    await asyncio.sleep(0)
    assert len(got) == 16 * (transport.UNREAD_LIMIT // len(chunk) + 1)
    assert paused == [True, False]
    await _close(server, socks)


async def test_a_pong_waiting_for_its_slice_keeps_the_connection() -> None:
    server, socks, _ = await _sockets(1)
    sock = socks[0]
    sock._ping()
    assert sock._pinged
    sock.data_received(_frame(0xA, b"pong"))  # left for a slice...
    sock._ping_timed_out()  # ...when the pong's time is up
    assert not sock._pinged and sock.open
    await _close(server, socks)


async def test_what_was_left_unread_before_an_end_of_stream_is_handed_on_first() -> None:
    server, socks, got = await _sockets(1)
    socks[0].data_received(_msg("before eof"))
    socks[0].eof_received()
    assert got == [(0, "before eof")]
    await _close(server, socks)
