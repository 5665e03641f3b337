"""A charger's connection on real sockets: its messages answered in order once stored, the
socket read no further while the store is far behind, and the answer to a command taken
ahead of the messages still waiting for the store."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.http11 import Request, Response

from csms.connection import ChargerConnection
from csms.server import CsmsApp
from csms.store import Then
from csms.transport import Options, Socket, WsServer
from shared.events import Event
from shared.framing import OCPP16, CallResult
from tests.csms.conftest import open_booted, until
from tests.csms.test_protocol import STATUS_16, TS_16, frame, protocol
from tests.csms.test_transport_frames import _frame


class Held:
    """A csms connection whose store waits until the test opens the gate."""

    def __init__(self, known: bool = True) -> None:
        self.known = known  # False: a charger whose boot is still pending
        self.gate = asyncio.Event()
        self.stored: list[list[Event]] = []
        self._writes: set[asyncio.Future[None]] = set()
        self.conn: asyncio.Future[ChargerConnection] = asyncio.get_running_loop().create_future()

    def store(
        self,
        charger_id: str,
        fields: dict[str, str] | None,
        evs: list[Event],
        then: Then,
        fence: str = "",
    ) -> bool:
        async def through_the_gate() -> None:
            await self.gate.wait()
            self.stored.append(evs)
            then(None)

        self._writes.add(asyncio.ensure_future(through_the_gate()))
        return True

    async def handle(self, sock: Socket) -> None:
        conn = ChargerConnection(sock, protocol(OCPP16, known=self.known), self.store, lambda: True)
        self.conn.set_result(conn)
        await conn.serve()


async def _accept(sock: Socket, request: Request) -> Response | None:
    return None


@pytest.fixture
async def held(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Held, ClientConnection]]:
    h = Held(known=getattr(request, "param", True))
    options = Options([OCPP16], 65536, 30.0, 30.0, close_timeout=1.0)
    server = WsServer(h.handle, _accept, options)
    await server.listen("127.0.0.1", 0, ssl_context=None, reuse_port=False, backlog=16)
    port = server.listening[0].getsockname()[1]
    ws = await connect(f"ws://127.0.0.1:{port}/ocpp/CP-1", subprotocols=[OCPP16])  # type: ignore[list-item]
    yield h, ws
    h.gate.set()
    await ws.close()
    server.close()
    await asyncio.wait_for(server.wait_closed(), 5)


async def test_a_commands_answer_is_taken_ahead_of_messages_waiting_for_the_store(
    held: tuple[Held, ClientConnection],
) -> None:
    h, ws = held
    await ws.send(frame("s1", "StatusNotification", STATUS_16))  # its store waits at the gate
    conn = await h.conn
    command = asyncio.create_task(conn.call("ClearCache", {}, 5))
    call = orjson.loads(await ws.recv())
    assert call[2] == "ClearCache"
    await ws.send(frame("h1", "Heartbeat", {}))  # queued behind the status
    await ws.send(orjson.dumps([3, call[1], {"status": "Accepted"}]))

    answer = await asyncio.wait_for(command, 5)  # while the status is still not stored
    assert isinstance(answer, CallResult) and answer.payload == {"status": "Accepted"}
    assert not h.gate.is_set() and not h.stored

    h.gate.set()  # the charger's own messages are then answered in the order sent
    assert [orjson.loads(await ws.recv())[1] for _ in range(2)] == ["s1", "h1"]
    assert h.stored[0][0]["type"] == "status"


async def test_a_call_sent_now_has_its_answer_taken_in_the_read_itself(
    held: tuple[Held, ClientConnection],
) -> None:
    """A command's CALL goes out in the turn of the loop that asked for it, and its answer is
    handed over from the socket's read, not a task's next turn."""
    h, ws = held
    conn = await h.conn
    heard: list[tuple[object, asyncio.Task[object] | None, bool]] = []
    sent = conn.call_now(
        "ClearCache", {}, lambda a: heard.append((a, asyncio.current_task(), answer.done()))
    )
    assert sent is not None
    message_id, answer = sent
    call = orjson.loads(await ws.recv())
    assert call[1:] == [message_id, "ClearCache", {}]
    await ws.send(orjson.dumps([3, message_id, {"status": "Accepted"}]))
    result = await asyncio.wait_for(answer, 5)
    assert isinstance(result, CallResult) and result.payload == {"status": "Accepted"}
    # called from the read: in no task, before anything waiting for the answer could run
    assert heard == [(result, None, False)]
    # answered: the next command's CALL may go at once, and ending this one again changes
    # nothing for it
    after = conn.call_now("ClearCache", {}, lambda a: None)
    assert after is not None
    conn.end_call(message_id)
    assert conn.call_now("ClearCache", {}, lambda a: None) is None
    conn.end_call(after[0])


async def test_one_call_at_a_time_whether_sent_now_or_awaited(
    held: tuple[Held, ClientConnection],
) -> None:
    h, ws = held
    conn = await h.conn
    sent = conn.call_now("ClearCache", {}, lambda a: None)
    assert sent is not None
    assert conn.call_now("ClearCache", {}, lambda a: None) is None  # one is outstanding
    given_up = asyncio.create_task(conn.call("ClearCache", {}, 0.2))
    waiting = asyncio.create_task(conn.call("ChangeAvailability", {"connectorId": 0}, 5))
    first = orjson.loads(await ws.recv())
    with pytest.raises(TimeoutError):  # gave up in the queue: it never went out
        await given_up
    # its answer passes the turn on, past the caller that gave up
    await ws.send(orjson.dumps([3, first[1], {"status": "Accepted"}]))
    await sent[1]
    second = orjson.loads(await ws.recv())
    assert second[2] == "ChangeAvailability"
    assert conn.call_now("ClearCache", {}, lambda a: None) is None  # still outstanding
    await ws.send(orjson.dumps([3, second[1], {"status": "Accepted"}]))
    assert isinstance(await asyncio.wait_for(waiting, 5), CallResult)
    again = conn.call_now("ClearCache", {}, lambda a: None)  # free again
    assert again is not None
    conn.end_call(again[0])


async def test_a_charger_that_owes_an_answer_is_read_at_once_until_it_is_settled(
    held: tuple[Held, ClientConnection],
) -> None:
    """Its socket is read as the loop dispatches it, ahead of other chargers' telemetry
    (csms.transport), only while an answer is owed: answered, or given up on."""
    h, ws = held
    conn = await h.conn
    assert not conn.ws.prompt
    sent = conn.call_now("ClearCache", {}, lambda a: None)
    assert sent is not None and conn.ws.prompt
    call = orjson.loads(await ws.recv())
    await ws.send(orjson.dumps([3, call[1], {"status": "Accepted"}]))
    await asyncio.wait_for(sent[1], 5)
    assert not conn.ws.prompt
    awaited = asyncio.create_task(conn.call("ClearCache", {}, 0.5))
    await ws.recv()
    assert conn.ws.prompt
    with pytest.raises(TimeoutError):  # never answered
        await awaited
    assert not conn.ws.prompt


async def test_without_a_command_in_flight_an_answer_like_frame_waits_its_turn(
    held: tuple[Held, ClientConnection],
) -> None:
    h, ws = held
    await ws.send(frame("s1", "StatusNotification", STATUS_16))
    await h.conn
    await ws.send(orjson.dumps([3, "nobody-asked", {}]))
    await ws.send(frame("h1", "Heartbeat", {}))
    h.gate.set()
    assert [orjson.loads(await ws.recv())[1] for _ in range(2)] == ["s1", "h1"]


async def test_a_charger_far_ahead_of_the_store_is_read_no_further_and_loses_nothing(
    held: tuple[Held, ClientConnection],
) -> None:
    h, ws = held
    for i in range(100):
        await ws.send(frame(f"s{i}", "StatusNotification", STATUS_16))
    conn = await h.conn
    async with asyncio.timeout(5):
        while conn.ws.reading:  # noqa: ASYNC110 - the socket has no hook to wait on
            await asyncio.sleep(0.01)
    h.gate.set()
    assert [orjson.loads(await ws.recv())[1] for _ in range(100)] == [f"s{i}" for i in range(100)]
    assert conn.ws.reading


async def test_a_frame_too_deep_to_print_leaves_the_messages_behind_it_answered(
    held: tuple[Held, ClientConnection],
) -> None:
    """A CALLERROR whose description nests a thousand lists: str() of it cannot be taken.
    It waits behind a message being stored, and so does a Heartbeat after it."""
    h, ws = held
    deep = '[4,"x","GenericError",' + "[" * 1000 + "]" * 1000 + "]"
    await ws.send(frame("s1", "StatusNotification", STATUS_16))
    await h.conn
    await ws.send(deep)
    await ws.send(frame("h1", "Heartbeat", {}))
    h.gate.set()
    assert [orjson.loads(await ws.recv())[1] for _ in range(2)] == ["s1", "h1"]


async def test_a_transaction_message_left_unanswered_is_not_stored_after_the_charger_left(
    held: tuple[Held, ClientConnection],
) -> None:
    """The charger sends it again on its next connection, which must not find it stored: it
    would be a second transaction, or written over the newer connection's state."""
    h, ws = held
    start = {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": TS_16}
    await ws.send(frame("s1", "StatusNotification", STATUS_16))
    conn = await h.conn
    await ws.send(frame("t1", "StartTransaction", start))
    await ws.send(frame("s2", "StatusNotification", STATUS_16))

    async def queued() -> bool:
        return len(conn._backlog or ()) == 2

    await until(queued)
    ws.transport.abort()  # gone before any answer
    await conn.ws.wait_closed()
    h.gate.set()
    await conn.until_idle()
    # the statuses are kept, as the charger may not send them again; the start is not
    assert [[e["type"] for e in evs] for evs in h.stored] == [["status"], ["status"]]
    assert conn.session.transactions == {}


async def test_a_transaction_message_still_unread_when_the_connection_is_lost_is_not_stored(
    held: tuple[Held, ClientConnection],
) -> None:
    """Read from the network but left for the transport's next slice when the TCP connection
    is lost: it is handled then, but can no longer be answered, so it is left to the resend
    like any transaction message the charger left before its answer."""
    h, ws = held
    h.gate.set()
    stop = {"transactionId": 7, "meterStop": 10, "timestamp": TS_16}  # no token to look up
    await ws.send(frame("s1", "StatusNotification", STATUS_16))
    conn = await h.conn
    assert orjson.loads(await ws.recv())[1] == "s1"
    sock = conn.ws
    sock.transport.abort()  # its connection_lost is due in the loop's next callbacks...
    sock.data_received(  # ...ahead of the slice this read is left for
        _frame(0x1, frame("t1", "StopTransaction", stop))
        + _frame(0x1, frame("s2", "StatusNotification", STATUS_16))
    )
    await asyncio.wait_for(sock.wait_closed(), 5)
    await conn.until_idle()
    assert [[e["type"] for e in evs] for evs in h.stored] == [["status"], ["status"]]


@pytest.mark.parametrize("held", [False], indirect=True, ids=["boot pending"])
async def test_what_an_accepted_trigger_asked_for_is_taken_even_in_the_same_read(
    held: tuple[Held, ClientConnection],
) -> None:
    """OCPP has the charger answer TriggerMessage, then send what was asked at once: both
    may arrive in one read, before the command that triggered it runs again."""
    h, ws = held
    await ws.send(frame("b1", "Heartbeat", {}))  # refused: its boot is pending
    assert orjson.loads(await ws.recv())[2] == "SecurityError"
    conn = await h.conn
    h.gate.set()
    trigger = asyncio.create_task(
        conn.call("TriggerMessage", {"requestedMessage": "StatusNotification"}, 5)
    )
    call = orjson.loads(await ws.recv())
    ws.protocol.send_text(orjson.dumps([3, call[1], {"status": "Accepted"}]))
    ws.protocol.send_text(frame("s1", "StatusNotification", STATUS_16))
    ws.send_data()
    assert orjson.loads(await ws.recv())[:2] == [3, "s1"]
    assert isinstance(await trigger, CallResult)


async def test_a_charger_that_drops_leaves_nothing_for_the_cycle_collector(csms: CsmsApp) -> None:
    """Its connection, protocol and socket are freed as it goes: a storm's dropped chargers
    left to a full collection stopped a csms for 1.7 s (see csms/transport.py)."""
    raw = await open_booted(csms, "CP-GONE")
    await raw.call("StatusNotification", {**STATUS_16, "timestamp": TS_16})
    conn = csms.node.connections["CP-GONE"]
    held: list[weakref.ref[Any]] = [
        weakref.ref(o) for o in (conn, conn.protocol, conn.ws, conn.ws.ws)
    ]
    del conn
    gc.collect()
    gc.disable()
    try:
        raw.ws.transport.abort()

        async def freed() -> bool:
            return all(ref() is None for ref in held)

        await until(freed)
    finally:
        gc.enable()
