"""The csms's WebSocket server: websockets' Sans-I/O protocol on a bare asyncio.Protocol.

Messages are parsed and handed to the connection's listener with no task woken per message;
an answer is written at once, without a lock or a drain, while the socket takes writes.
Telemetry is read in slices after the loop has dispatched every socket that was ready (see
WsServer.later): a socket whose charger owes an answer, and the commands that come through
Redis, are taken in the dispatch itself and never wait behind a burst of telemetry. This is
the asyncio layer of websockets without its per-message futures, send lock and keep-alive
task (bench/echo.py measures both).

What nearly every frame is, a whole unfragmented text or binary message, is read and written
here; the protocol reads everything else (control frames, fragments, a frame split across
reads, anything invalid), and is handed exactly the bytes of those frames, so it stays where
a frame begins."""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.server import ServerProtocol

from shared.process import cancel

try:
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - the wheels ship the C speedup
    from websockets.utils import apply_mask

log = logging.getLogger(__name__)

# Messages read before the handler listens, past which the socket stops reading until it does.
EARLY_LIMIT = 16
# How long one slice of the reads left for later may run before the loop looks for what is
# ready again (seconds): the most a command's envelope or a charger's answer waits for it.
SLICE = 0.001
# Bytes read from one socket and left for a slice, past which it is not read until they are
# handed on: a charger that floods waits for its turn like the others, in bounded memory.
UNREAD_LIMIT = 65536

ProcessRequest = Callable[["Socket", Request], Awaitable[Response | None]]
Handler = Callable[["Socket"], Awaitable[None]]


class Closed(Exception):
    """The connection is closed: nothing can be sent on it."""


@dataclass(frozen=True, slots=True)
class Options:
    """What every connection of one server shares (seconds, bytes)."""

    subprotocols: list[str]
    max_size: int
    ping_interval: float
    ping_timeout: float
    close_timeout: float
    open_timeout: float = 10.0


def _may_be_whole(start: bytes, limit: int) -> bool:
    """Whether a frame that begins with `start`, less than its header, may yet be a whole masked
    text or binary frame of at most `limit` bytes, which the transport reads itself."""
    if start[0] != 0x81 and start[0] != 0x82:
        return False
    if len(start) < 2:
        return True
    second = start[1]
    n = second & 0x7F
    width = 2 if n == 126 else 8 if n == 127 else 0
    if not second & 0x80 or (width == 0 and n > limit):
        return False
    if width == 0 or len(start) < 2 + width:
        return True
    return int.from_bytes(start[2 : 2 + width], "big") <= limit


class Socket(asyncio.Protocol):
    """One charger's WebSocket, from the upgrade request to the TCP close."""

    __slots__ = (
        "__weakref__",
        "_carry",
        "_closed_waiters",
        "_closing",
        "_drain",
        "_early",
        "_failed",
        "_fed",
        "_fragments",
        "_framing",
        "_gone",
        "_heard",
        "_listener",
        "_owed",
        "_pinged",
        "_reading",
        "_server",
        "_silent_at",
        "_task",
        "_text",
        "_timer",
        "_unread",
        "_unread_bytes",
        "_writing",
        "prompt",
        "remote_address",
        "request",
        "transport",
        "ws",
    )

    def __init__(self, server: WsServer) -> None:
        self._server = server
        opts = server.options
        self.ws = ServerProtocol(
            subprotocols=opts.subprotocols,  # type: ignore[arg-type]
            max_size=opts.max_size,
        )
        self.transport: Any = None  # uvloop's transports are not asyncio.Transport subclasses
        self.request: Request | None = None
        self.remote_address: Any = None
        self._listener: Callable[[str | bytes], None] | None = None
        self._early: deque[str | bytes] | None = None
        self._fragments: list[bytes] | None = None
        self._failed = False  # this side failed the connection: nothing read after is handed on
        self._text = False  # whether the fragmented message is text
        self._drain: asyncio.Future[None] | None = None  # writers waiting for the socket
        self._gone = False  # the TCP connection is closed
        self._closed_waiters: list[asyncio.Future[None]] | None = None
        self._reading = True
        self._writing = True
        self._pinged = False  # and the pong is awaited
        self._heard = False  # a frame came in since the ping timer was set
        # Frames read here rather than by the protocol: only once the upgrade request was the
        # whole of the first read, so that the protocol's parser starts at a frame's first byte.
        self._framing = False
        self._carry = b""  # the start of a frame header that the last read cut
        self._fed = False  # and the protocol has read it: the frame is not read here
        self._owed = 0  # bytes of a frame the protocol has begun to read and needs the rest of
        self._timer: asyncio.TimerHandle | None = None  # handshake, pong or close
        self._unread: list[bytes] | None = None  # read, left for the server's next slice
        self._unread_bytes = 0
        # read at once rather than in a slice: the listener waits for an answer on it
        self.prompt = False
        # when to ping unless a frame came meanwhile (loop time; 0: not waiting): the server
        # sweeps every connection for it, with no timer of each connection's own
        self._silent_at = 0.0
        self._closing = False  # the timer aborts the TCP connection
        self._task: asyncio.Task[None] | None = None

    # asyncio.Protocol

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.remote_address = transport.get_extra_info("peername")
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self._server.options.open_timeout, transport.abort)
        self._server.sockets.add(self)

    def data_received(self, data: bytes) -> None:
        self._heard = True
        unread = self._unread
        if unread is not None:  # what came before is still to be read: after it
            unread.append(data)
            if self.prompt:
                self.read_unread()
                return
            self._unread_bytes += len(data)
        elif self._framing and not self.prompt:
            self._unread = [data]
            self._unread_bytes = len(data)
            self._server.later(self)
        else:
            self._take(data)
            return
        if self._unread_bytes > UNREAD_LIMIT:
            self.transport.pause_reading()  # until read_unread

    def read_unread(self) -> None:
        """Read what was left for later (WsServer.later), if anything still is."""
        unread, self._unread = self._unread, None
        if not unread:
            return
        self._take(b"".join(unread))  # one read is handed on as it is, not copied
        if self._unread_bytes > UNREAD_LIMIT and self._reading and self._writing and not self._gone:
            self.transport.resume_reading()  # paused for the limit, and by nothing else

    def _take(self, data: bytes) -> None:
        if self._framing:
            self._read_frames(data)
        else:
            self._parse(data)
        self._flush()

    def _parse(self, data: bytes) -> None:
        """The protocol's own parser: the upgrade request, and the frames left to it."""
        ws = self.ws
        ws.receive_data(data)
        for event in ws.events_received():
            if type(event) is Frame:
                if self._failed:  # frames parsed in the same read as the one that failed it
                    return
                self._on_frame(event)
            elif type(event) is Request and self._task is None:
                self.request = event
                self._task = asyncio.get_running_loop().create_task(self._serve())
                self._server.tasks.add(self._task)
                # The request ends at its first blank line. If a read holds the whole request
                # and ends there, no byte of a frame has reached the protocol's parser yet.
                self._framing = data.startswith(b"GET ") and data.find(b"\r\n\r\n") == len(data) - 4

    def _read_frames(self, data: bytes) -> None:
        """Whole unfragmented data frames, unmasked here; other frames to the protocol."""
        ws = self.ws
        if self._owed:
            n = min(self._owed, len(data))
            self._owed -= n
            self._parse(data[:n])
            data = data[n:]
        fed = 0  # bytes at the start of `data` that the protocol has read already
        if self._carry:
            fed = len(self._carry) if self._fed else 0
            data, self._carry, self._fed = self._carry + data, b"", False
        size, at = len(data), 0
        limit = self._server.options.max_size
        while at < size:
            # Closing (the protocol discards what follows), or frames sent before the upgrade
            # was answered: the protocol reads the rest of this connection.
            if ws.state is not State.OPEN:
                self._framing = False
                self._parse(data[at + fed :])
                return
            if size - at < 2:
                self._cut_header(data[at:], fed)
                return
            first, second = data[at], data[at + 1]
            n = second & 0x7F
            head = (2 if n < 126 else 4 if n == 126 else 10) + (4 if second & 0x80 else 0)
            if size - at < head:
                self._cut_header(data[at:], fed)
                return
            if n == 126:
                n = int.from_bytes(data[at + 2 : at + 4], "big")
            elif n == 127:
                n = int.from_bytes(data[at + 2 : at + 10], "big")
            end = at + head + n
            # FIN, no reserved bit, text (1) or binary (2), masked, within the limit, whole
            if (
                (first == 0x81 or first == 0x82)
                and second & 0x80
                and n <= limit
                and end <= size
                and ws.current_size is None
                and not fed
            ):
                payload = apply_mask(data[at + head : end], data[at + head - 4 : at + head])
                at = end
                self._on_message(payload, first == 0x81)
                continue
            taken = min(end, size)
            self._owed = end - taken
            self._parse(data[at + fed : taken])
            at, fed = taken, 0

    def _cut_header(self, start: bytes, fed: int) -> None:
        """A read ended inside a frame's header: the next read completes it. A frame that cannot
        be read here goes to the protocol at once (less what it has), which may refuse it
        before the rest of its header comes, as it would have without this reading."""
        if self.ws.current_size is None and _may_be_whole(start, self._server.options.max_size):
            self._carry = start
        else:
            self._parse(start[fed:])
            self._carry, self._fed = start, True

    def eof_received(self) -> bool:
        self.read_unread()
        self.ws.receive_eof()
        self._flush()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        ws = self.ws
        self._gone = True
        try:
            self.read_unread()  # what the charger sent before it left is handled, not answered
        except Exception:  # a bug: the connection is still let go of below
            log.exception("reading a connection failed")
        ws.receive_eof()  # the state becomes CLOSED, with code 1006 if none was sent
        self._cancel_timer()
        waiters, self._closed_waiters = self._closed_waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)
        self._server.sockets.discard(self)
        # Undo the cycles a connection makes, so that it is freed by reference counting: the
        # listener (its charger's connection) refers back to this socket; the protocol's
        # parser, suspended for good once closed, and the end-of-stream error's traceback
        # both refer to the protocol. Left to the cycle collector, the connections a storm
        # drops were a full collection that stopped the csms for 1.7 s (19,000 chargers).
        self._listener = None
        ws.parser.close()
        if ws.parser_exc is not None:
            ws.parser_exc.__traceback__ = None

    def pause_writing(self) -> None:
        self._writing = False
        # A peer that does not read is not read either: what it sends may call for answers
        # (a pong for each ping) that would pile up in memory.
        if self._reading and not self._gone:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self._writing = True
        if self._reading and not self._gone:
            self.transport.resume_reading()
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)
        self._drain = None

    # frames in

    def _on_frame(self, frame: Frame) -> None:
        opcode = frame.opcode
        data: bytes = frame.data  # type: ignore[assignment]  # the parser makes bytes
        if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
            if not frame.fin:
                self._fragments = [data]
                self._text = opcode is Opcode.TEXT
                return
            self._on_message(data, opcode is Opcode.TEXT)
        elif opcode is Opcode.CONT:
            assert self._fragments is not None  # the protocol refuses a stray continuation
            self._fragments.append(data)
            if frame.fin:
                data, self._fragments = b"".join(self._fragments), None
                self._on_message(data, self._text)
        elif opcode is Opcode.PONG and self._pinged and not self._closing:
            self._pinged = False
            self._cancel_timer()
            self._await_silence()
        # pings are answered and closes echoed by the protocol itself

    def _on_message(self, data: bytes, text: bool) -> None:
        if text:
            try:
                message: str | bytes = data.decode()
            except UnicodeDecodeError as exc:
                self._fail(1007, f"{exc.reason} at position {exc.start}")
                return
        else:
            message = data
        listener = self._listener
        if listener is None:  # upgraded, but its handler is not listening yet
            if self._early is None:
                self._early = deque()
            self._early.append(message)
            if len(self._early) >= EARLY_LIMIT:
                self.pause_reading()
            return
        try:
            listener(message)
        except Exception:  # a bug in the listener: this connection ends, the server carries on
            log.exception("message listener failed")
            self._fail(1011, "internal error")

    def _fail(self, code: int, reason: str) -> None:
        """Close with `code` at once; what the peer sent after is not read."""
        self._failed = True
        self.ws.fail(code, reason)

    def listen(self, listener: Callable[[str | bytes], None]) -> None:
        """Hand each message to `listener` as it is read, starting with any read already."""
        self._listener = listener
        early, self._early = self._early, None
        if early:
            self.resume_reading()
            for message in early:
                listener(message)

    def pause_reading(self) -> None:
        """Stop reading from the socket (the listener is behind); the peer's writes then wait."""
        if self._reading and not self._gone:
            self._reading = False
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if not self._reading and not self._gone:
            self._reading = True
            if self._writing:  # else once the peer reads again
                self.transport.resume_reading()

    def wait_closed(self) -> asyncio.Future[None]:
        """Done once the TCP connection is closed; cancelling it cancels only this wait. A
        future of its own rather than asyncio.shield, whose closures held ~0.8 KiB and eleven
        objects for the cycle collector to walk, for as long as a charger stayed connected."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._gone:
            waiter.set_result(None)
        else:
            # the waits given up on go as another begins: few live at once
            waiters = [w for w in self._closed_waiters or () if not w.done()]
            waiters.append(waiter)
            self._closed_waiters = waiters
        return waiter

    # frames out

    @property
    def open(self) -> bool:
        """The WebSocket is open and its TCP connection not lost: while connection_lost reads
        what was left unread, the messages are handled but cannot be answered."""
        return self.ws.state is State.OPEN and not self._gone

    @property
    def reading(self) -> bool:
        """False while the socket is not read (pause_reading)."""
        return self._reading

    @property
    def writing(self) -> bool:
        """False while the peer does not read and sends wait."""
        return self._writing

    def send_now(self, message: str) -> bool:
        """Write a text frame at once if the socket takes writes; False if it must wait."""
        if not self._writing or self._gone or self.ws.state is not State.OPEN:
            return False
        self._write_text(message)
        return True

    async def send(self, message: str) -> None:
        """Write a text frame, waiting while the peer does not read; raises Closed."""
        while not self._writing and self.open:
            if self._drain is None:
                self._drain = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._drain)
        if not self.open:
            raise Closed
        self._write_text(message)

    def _write_text(self, message: str) -> None:
        """A server's text frame (unmasked, unfragmented, no extension was negotiated), after
        anything the protocol has queued."""
        if self.ws.writes:
            self._flush()
        payload = message.encode()
        n = len(payload)
        if n < 126:
            head = bytes((0x81, n))
        elif n < 65536:
            head = b"\x81\x7e" + n.to_bytes(2, "big")
        else:
            head = b"\x81\x7f" + n.to_bytes(8, "big")
        self.transport.write(head + payload)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """The closing handshake, bounded by the close timeout; returns once TCP is closed."""
        if self.ws.state is State.OPEN:
            self.ws.send_close(code, reason)
            self._flush()
        elif self.ws.state is State.CONNECTING and self.transport is not None:
            self.transport.close()
        await self.wait_closed()

    @property
    def close_code(self) -> int | None:
        return self.ws.close_code

    @property
    def close_reason(self) -> str | None:
        return self.ws.close_reason

    @property
    def subprotocol(self) -> str | None:
        return self.ws.subprotocol

    def _flush(self) -> None:
        ws = self.ws
        out = ws.data_to_send()
        if not out or self._gone:
            return
        transport = self.transport
        if out[-1] == b"":
            transport.write(b"".join(out[:-1]))
            transport.close()  # after what is buffered; aborted if that takes too long
            self._expect_close()
        else:
            transport.write(out[0] if len(out) == 1 else b"".join(out))
            if ws.state is State.CLOSING:
                self._expect_close()

    def _expect_close(self) -> None:
        """A peer that does not end the TCP connection in time has it aborted."""
        if self._closing or self._gone:
            return
        self._closing = True
        self._cancel_timer()
        self._timer = asyncio.get_running_loop().call_later(
            self._server.options.close_timeout, self.transport.abort
        )

    # keep-alive

    def _ping(self) -> None:
        """Ping a peer that sent nothing for a whole interval: one that spoke is alive, and a
        charger on duty speaks more often than that, so most connections are never pinged."""
        self._silent_at = 0.0
        if self.ws.state is not State.OPEN or self._closing:
            return
        if self._heard or not self._reading:
            # not reading (our listener is behind: the store is slow), we cannot tell
            self._await_silence()
            return
        self.ws.send_ping(os.urandom(4))
        self._flush()
        self._pinged = True
        self._timer = asyncio.get_running_loop().call_later(
            self._server.options.ping_timeout, self._ping_timed_out
        )

    def _await_silence(self) -> None:
        """Ping once a whole interval from now has passed without a frame."""
        self._heard = False
        server = self._server
        self._silent_at = asyncio.get_running_loop().time() + server.options.ping_interval
        server.sweep_silences()

    def _ping_timed_out(self) -> None:
        self._timer = None
        self.read_unread()  # its pong may have come and be waiting for a slice
        if self.ws.state is not State.OPEN or not self._pinged:
            return
        if not self._reading:  # its pong may be waiting in the socket, unread by our choice
            self._pinged = False
            self._await_silence()
            return
        self._fail(1011, "keepalive ping timeout")
        self._flush()

    def _cancel_timer(self) -> None:
        self._silent_at = 0.0
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # the connection's task

    async def _serve(self) -> None:
        """The upgrade, then the handler. The request stays only in `self.request`, which the
        handler drops once read: its headers are ~2.7 KiB a connection."""
        server = self._server
        try:
            if not await self._upgrade():
                return
            self._await_silence()  # the upgrade request does not count
            await server.handler(self)
        except Exception:  # the handler's own failures are its to log; this one is a bug
            log.exception("connection handler failed")
            if self.ws.state is State.OPEN:
                self._fail(1011, "internal error")
                self._flush()
        finally:
            server.tasks.discard(self._task)

    async def _upgrade(self) -> bool:
        """Answer the upgrade request; True once the WebSocket is open."""
        assert self.request is not None
        response = await self._answer(self.request)
        self._cancel_timer()  # the handshake's
        if self.ws.state is not State.CONNECTING or self._gone:
            return False  # gone while the request was decided
        self.ws.send_response(response)
        self._flush()
        if response.status_code != 101:
            return False
        if self._framing and not self.ws.reader.buffer:
            # Nothing came after the request: a new parser starts where the old one stands,
            # at a frame's first byte, without the request that the old one's frame keeps.
            self.ws.parser = self.ws.parse()
            next(self.ws.parser)
        return True

    async def _answer(self, request: Request) -> Response:
        server = self._server
        if not server.closing:
            try:
                refused = await server.process_request(self, request)
            except Exception:
                log.exception("upgrade request failed")
                return self.ws.reject(500, "Internal server error.\n")
            if refused is not None:
                return refused
            if not server.closing:
                return self.ws.accept(request)
        return self.ws.reject(503, "Server is shutting down.\n")

    def reject(self, status: int, text: str) -> Response:
        """An HTTP answer refusing the upgrade."""
        return self.ws.reject(status, text)


class WsServer:
    """Listens, upgrades each request it accepts, and runs `handler` for each WebSocket."""

    def __init__(self, handler: Handler, process_request: ProcessRequest, options: Options) -> None:
        self.handler = handler
        self.process_request = process_request
        self.options = options
        self.sockets: set[Socket] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.closing = False
        self._server: asyncio.AbstractServer | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._later: deque[Socket] = deque()  # sockets with reads left for a slice, in order
        self._slicing = False  # a slice is due in the loop

    async def listen(
        self,
        host: str,
        port: int,
        *,
        ssl_context: ssl.SSLContext | None,
        reuse_port: bool,
        backlog: int,
    ) -> None:
        self._server = await asyncio.get_running_loop().create_server(
            lambda: Socket(self),
            host,
            port,
            ssl=ssl_context,
            reuse_port=reuse_port or None,
            backlog=backlog,
        )

    @property
    def listening(self) -> list[Any]:
        assert self._server is not None
        return list(self._server.sockets)  # type: ignore[attr-defined]

    def close(self) -> None:
        """Stop accepting; connections in their handshake are refused with 503."""
        self.closing = True
        if self._server is not None:
            self._server.close()

    async def wait_closed(self) -> None:
        """Until every connection's task has ended."""
        while self.tasks:
            await asyncio.wait(list(self.tasks))
        await cancel(self._sweeper)

    def later(self, sock: Socket) -> None:
        """Read `sock`'s data in a slice after this dispatch of ready sockets, rather than now."""
        self._later.append(sock)
        if not self._slicing:
            self._slicing = True
            asyncio.get_running_loop().call_soon(self._slice)

    def _slice(self) -> None:
        """Read the sockets left for later, in the order they were, for at most SLICE seconds;
        the rest go on in another slice once the loop has dispatched what is ready."""
        later = self._later
        until = time.perf_counter() + SLICE
        while later:
            sock = later.popleft()
            try:
                sock.read_unread()
            except Exception:  # a bug in one connection: it ends, the others are read
                log.exception("reading a connection failed")
                sock.transport.abort()
            if time.perf_counter() > until:
                break
        if later:
            asyncio.get_running_loop().call_soon(self._slice)
        else:
            self._slicing = False

    def sweep_silences(self) -> None:
        """Make sure a sweep looks for silent connections: one pass for them all rather than a
        timer each, which held ~0.6 KiB and four objects for the cycle collector a connection."""
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep())

    async def _sweep(self) -> None:
        """Ping each connection whose silence is due, every tenth of the interval (at most a
        second late), while any connection is open."""
        loop = asyncio.get_running_loop()
        tick = min(1.0, self.options.ping_interval / 10)
        while self.sockets:
            await asyncio.sleep(tick)
            now = loop.time()
            for sock in [s for s in self.sockets if 0.0 < s._silent_at <= now]:
                try:
                    sock._ping()
                except Exception:  # one connection's failure must not end every one's keep-alive
                    log.exception("keep-alive ping failed")
                    sock.transport.abort()
