"""The hot paths to Redis on one pipelined connection: each partner request's rate-limit script
and the read its route asks for beside it (gateway); a csms's state write batches
(csms.store), its handshakes' reads and attach/detach scripts (shared.redis_batch) and its
commands' calls, each on a lane of its own.

Through redis-py a command costs more CPU than aiohttp's whole request (a pooled connection
checked out and back, a retry wrapper, a timeout context per reply, a stream reader woken per
reply): a bare aiohttp app that asks it one HGETALL per request answered about a third as many
requests per CPU second as without it, and ~90% over a lane; the status read asked Redis twice.
A `Lane` is one connection that writes everything its callers asked for during a loop
iteration in one write and hands each caller its replies as hiredis parses them: at saturation
some twenty requests share each system call to Redis and back, and a caller's commands always
go out together, in order, in one round trip.

A lane serves a single server over TCP or a Unix socket. On a Redis Cluster (keys of one
request live on different primaries) the same calls go through the shared coalescer
(`shared.redis_batch`), which groups them by primary, sends each group down that primary's
lane (`Lanes`) and follows MOVED/ASK redirects; over TLS it uses redis-py's pipelines:
`hot_path(client)` picks. A subscriber
(shared.pubsub) opens a connection of its own to a lane's server with `Lane.open`.

Replies are what redis-py would give with decode_responses (HGETALL as a dict); an error reply
is returned in its place as redis-py's exception (NoScriptError, ResponseError, ...), not
raised, so one command's error leaves the others' replies usable. A server that cannot be
reached, a connection lost with commands in flight, or no answer within the socket timeout
raise redis.ConnectionError / redis.TimeoutError (shared.redis_client.UNAVAILABLE) to every
caller waiting on that connection; the next call connects afresh.
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar, cast

import hiredis
import redis.asyncio as redis
from redis._parsers.base import BaseParser
from redis.exceptions import AskError, ResponseError, TryAgainError

from shared.redis_batch import Coalescer
from shared.redis_client import SOCKET_TIMEOUT

P = TypeVar("P", bound=asyncio.BaseProtocol)

# (key, command): the key says which primary serves the command on a cluster.
Call = tuple[str, tuple[Any, ...]]

# A connection that has been quiet this long is replaced before it is used again: a peer or a
# middlebox may have dropped it without a word (what redis-py's health_check_interval guards).
IDLE_SECONDS = 30.0
CONNECT_TIMEOUT = 5.0


class HotPath(Protocol):
    async def run(self, calls: Sequence[Call]) -> list[Any]:
        """Each call's reply in order; a call that failed has its exception in its place (an
        error reply; on a cluster also a primary out of reach). Raises when no call could be
        asked at all (Redis out of reach, the connection lost)."""
        ...

    async def hashes(self, keys: Sequence[str]) -> list[dict[str, str]]:
        """Every hash (HGETALL) in one round trip; raises the first error, as a pipeline."""
        ...

    async def post(self, channel: str, message: str | bytes) -> int:
        """Publish (SPUBLISH on a cluster); the number of subscribers that got it."""
        ...

    def issue(self, commands: Sequence[tuple[Any, ...]]) -> asyncio.Future[list[Any]] | None:
        """Ask now, without a turn of the loop, on the connection that serves this path's calls
        before and after it, so Redis runs them in that order: the replies' future. None where
        that cannot be (no open connection, one quiet too long, a cluster)."""
        ...

    async def aclose(self) -> None: ...


def _pairs(flat: list[Any]) -> dict[Any, Any]:
    it = iter(flat)
    return dict(zip(it, it, strict=True))


# Replies redis-py reshapes (its response callbacks), for the commands the hot path sends.
_SHAPES: dict[str, Callable[[Any], Any]] = {"HGETALL": _pairs}


def failure(asked: asyncio.Future[list[Any]]) -> BaseException | None:
    """What failed of a call nobody awaits (issue()): the connection, or the first error reply."""
    if asked.cancelled():
        return None
    failed = asked.exception()
    if failed is None:
        failed = next((r for r in asked.result() if isinstance(r, Exception)), None)
    return failed


def succeeded(replies: list[Any]) -> list[Any]:
    """The replies, or the first error among them raised (what a redis-py pipeline does)."""
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return replies


def tune(transport: asyncio.BaseTransport) -> None:
    """No Nagle delay on a small command; keepalive finds a peer that vanished without a word."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)


class _Waiter:
    __slots__ = ("fut", "replies", "sent_at", "shapes", "wanted")

    def __init__(
        self, fut: asyncio.Future[list[Any]], wanted: int, shapes: list[Any], sent_at: float
    ) -> None:
        self.fut = fut
        self.wanted = wanted
        self.shapes = shapes
        self.replies: list[Any] = []
        self.sent_at = sent_at


class _Connection(asyncio.Protocol):
    """One connection: commands out in order, replies matched to their callers in order."""

    def __init__(self, eager: bool = False) -> None:
        self.eager = eager
        self.reader = hiredis.Reader(encoding="utf-8", replyError=ResponseError)
        self.waiting: deque[_Waiter] = deque()
        self.transport: asyncio.Transport | None = None
        self.lost: BaseException | None = None
        self.out: list[bytes] = []
        self.active_at = 0.0  # loop time of the last reply (or of the connection)
        self._loop = asyncio.get_running_loop()
        self._flushing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.active_at = self._loop.time()
        tune(transport)

    def send(self, commands: Sequence[tuple[Any, ...]]) -> asyncio.Future[list[Any]]:
        loop = self._loop
        fut: asyncio.Future[list[Any]] = loop.create_future()
        if self.lost is not None:
            fut.set_exception(self.lost)
            return fut
        # all packed before any is queued: a command that cannot be (an argument of a type
        # Redis has no form for) raises here and sends nothing, or its reply would go to the
        # next caller
        packed = [hiredis.pack_command(command) for command in commands]
        self.out += packed
        shapes = [_SHAPES.get(command[0]) for command in commands]
        self.waiting.append(_Waiter(fut, len(commands), shapes, loop.time()))
        if self.eager:
            self._flush()
        elif not self._flushing:
            self._flushing = True
            loop.call_soon(self._flush)  # the other callers of this loop iteration join in
        return fut

    def _flush(self) -> None:
        self._flushing = False
        out, self.out = self.out, []
        if self.transport is not None and self.lost is None and out:
            self.transport.write(b"".join(out))

    def data_received(self, data: bytes) -> None:
        reader, waiting = self.reader, self.waiting
        reader.feed(data)
        while True:
            try:
                reply = reader.gets()
            except UnicodeDecodeError as exc:  # hiredis has read the whole reply: it alone fails
                reply = redis.DataError(f"a reply that is not UTF-8: {exc}")
            except Exception as exc:  # not RESP: the stream is lost
                self.fail(redis.ConnectionError(f"unreadable reply from Redis: {exc!r}"))
                return
            if reply is False:
                break
            if not waiting:
                self.fail(redis.ConnectionError("Redis sent a reply nobody asked for"))
                return
            waiter = waiting[0]
            if isinstance(reply, ResponseError):
                reply = BaseParser.parse_error(str(reply))
            elif not isinstance(reply, redis.DataError):
                shape = waiter.shapes[len(waiter.replies)]
                if shape is not None:
                    reply = shape(reply)
            waiter.replies.append(reply)
            if len(waiter.replies) == waiter.wanted:
                waiting.popleft()
                if not waiter.fut.done():  # else its caller went away
                    waiter.fut.set_result(waiter.replies)
        self.active_at = self._loop.time()

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(redis.ConnectionError(f"Redis closed the connection: {exc or 'EOF'}"))

    def fail(self, error: BaseException) -> None:
        """Give up on this connection: every waiting caller gets `error`."""
        if self.lost is None:
            self.lost = error
        if self.transport is not None:
            self.transport.abort()
        while self.waiting:
            waiter = self.waiting.popleft()
            if not waiter.fut.done():
                waiter.fut.set_exception(error)


class Lane:
    """One pipelined connection to one Redis server, opened on first use and again after a
    loss (see the module docstring)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 6379,
        path: str | None = None,
        db: int = 0,
        username: str | None = None,
        password: str | None = None,
        timeout: float = SOCKET_TIMEOUT,
        eager: bool = False,
    ) -> None:
        # eager: each call is written at once instead of with the others of its loop
        # iteration, which costs one more turn of the loop (a command's, not telemetry's, path)
        self._eager = eager
        self._where = path or f"{host}:{port}"
        self._host, self._port, self._path = host, port, path
        self._hello: list[tuple[Any, ...]] = []
        if password:
            self._hello.append(("AUTH", username, password) if username else ("AUTH", password))
        if db:
            self._hello.append(("SELECT", db))
        self._timeout = timeout
        self._conn: _Connection | None = None
        self._connecting: asyncio.Task[_Connection] | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self._closed = False

    @classmethod
    def of(cls, client: Any, eager: bool = False) -> Lane | None:
        """A lane to the server of a redis-py client, if one can serve it (plain TCP or a Unix
        socket, not a cluster); None otherwise."""
        pool = getattr(client, "connection_pool", None)
        if pool is None or getattr(client, "sharded", False):
            return None
        kind, kw = pool.connection_class, pool.connection_kwargs
        common = {
            "db": int(kw.get("db") or 0),
            "username": kw.get("username"),
            "password": kw.get("password"),
            "timeout": kw.get("socket_timeout") or SOCKET_TIMEOUT,
            "eager": eager,
        }
        if issubclass(kind, redis.UnixDomainSocketConnection):
            return cls(path=kw["path"], **common)
        if issubclass(kind, redis.SSLConnection) or not issubclass(kind, redis.Connection):
            return None
        return cls(host=kw.get("host", "localhost"), port=int(kw.get("port", 6379)), **common)

    async def run(self, calls: Sequence[Call]) -> list[Any]:
        return await self.execute([command for _, command in calls])

    async def hashes(self, keys: Sequence[str]) -> list[dict[str, str]]:
        return succeeded(await self.execute([("HGETALL", key) for key in keys]))

    async def post(self, channel: str, message: str | bytes) -> int:
        [reply] = succeeded(await self.execute([("PUBLISH", channel, message)]))
        return int(reply)

    async def execute(self, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        """The replies to `commands`, sent together (see the module docstring)."""
        if not commands:
            return []
        conn = self._conn
        if conn is None or not self._usable(conn):
            conn = await self._reconnect()
        return await self._send(conn, commands)

    def issue(self, commands: Sequence[tuple[Any, ...]]) -> asyncio.Future[list[Any]] | None:
        conn = self._conn
        if not commands or conn is None or not self._usable(conn):
            return None
        return self._send(conn, commands)

    def _usable(self, conn: _Connection) -> bool:
        return conn.lost is None and (
            bool(conn.waiting) or conn._loop.time() - conn.active_at <= IDLE_SECONDS
        )

    def _send(
        self, conn: _Connection, commands: Sequence[tuple[Any, ...]]
    ) -> asyncio.Future[list[Any]]:
        fut = conn.send(commands)
        if self._watchdog is None:
            self._watchdog = conn._loop.call_later(self._timeout, self._check)
        return fut

    def _check(self) -> None:
        """No reply for the oldest caller within the timeout: the connection is given up."""
        self._watchdog = None
        conn = self._conn
        if conn is None or not conn.waiting:
            return
        overdue = conn.waiting[0].sent_at + self._timeout - conn._loop.time()
        if overdue <= 0:
            conn.fail(redis.TimeoutError(f"Timeout reading from {self._where}"))
        else:
            self._watchdog = conn._loop.call_later(overdue, self._check)

    async def _reconnect(self) -> _Connection:
        if self._closed:
            raise redis.ConnectionError("the lane is closed")
        if self._connecting is None or self._connecting.done():  # done: its callers all left
            old, self._conn = self._conn, None
            if old is not None:
                old.fail(redis.ConnectionError("connection replaced"))
            self._connecting = asyncio.get_running_loop().create_task(self._connect())
            self._connecting.add_done_callback(_retrieved)
        task = self._connecting
        try:
            # a caller that goes away does not take the connection attempt with it
            conn = await asyncio.shield(task)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if task.cancelled() and not (current and current.cancelling()):
                # aclose() ended the attempt: for this caller, the lane is closed
                raise redis.ConnectionError("the lane is closed") from None
            raise
        finally:
            if task.done() and self._connecting is task:
                self._connecting = None
        return conn

    @property
    def hello(self) -> list[tuple[Any, ...]]:
        """What a new connection to this server sends first (AUTH, SELECT), each answered OK."""
        return list(self._hello)

    async def open(self, factory: Callable[[], P]) -> tuple[asyncio.Transport, P]:
        """A connection of the caller's own protocol to this lane's server (a subscriber's);
        it sends `hello` itself. Raises redis.ConnectionError when none can be made."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                if self._path is not None:
                    transport, proto = await loop.create_unix_connection(factory, self._path)
                else:
                    transport, proto = await loop.create_connection(factory, self._host, self._port)
        except (OSError, TimeoutError) as exc:
            raise redis.ConnectionError(f"Error connecting to {self._where}: {exc}") from None
        return transport, proto

    async def _connect(self) -> _Connection:
        _, conn = await self.open(lambda: _Connection(self._eager))
        if self._hello:
            try:
                replies = await asyncio.wait_for(conn.send(self._hello), self._timeout)
            except BaseException:
                conn.fail(redis.ConnectionError("the handshake failed"))
                raise
            for reply in replies:
                if isinstance(reply, Exception):
                    conn.fail(redis.ConnectionError("the handshake failed"))
                    if isinstance(reply, redis.ConnectionError):
                        raise reply
                    raise redis.ConnectionError(f"Redis refused the handshake: {reply}")
        if self._closed:
            conn.fail(redis.ConnectionError("the lane is closed"))
            raise redis.ConnectionError("the lane is closed")
        self._conn = conn
        return conn

    async def aclose(self) -> None:
        self._closed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        if self._connecting is not None:
            self._connecting.cancel()
            self._connecting = None
        if self._conn is not None:
            self._conn.fail(redis.ConnectionError("the lane is closed"))
            self._conn = None


class Lanes:
    """A lane to each server a client's commands go to, opened on first use: the one server,
    or on a cluster each primary (the plain clients `node_client` and `client_at` hand out).
    None for a client no lane can serve (TLS)."""

    def __init__(self, eager: bool = False) -> None:
        self._eager = eager
        # id(client) -> (client, its lane): holding the client keeps its id from being reused
        self._lanes: dict[int, tuple[Any, Lane | None]] = {}

    def of(self, client: Any) -> Lane | None:
        found = self._lanes.get(id(client))
        if found is None:
            found = self._lanes[id(client)] = (client, Lane.of(client, self._eager))
        return found[1]

    async def keep(self, clients: Sequence[Any]) -> None:
        """Close the lanes of every client but these (a cluster's primaries after its slot
        map was read again: a node that left is not kept open)."""
        wanted = {id(client) for client in clients}
        for gone in [key for key in self._lanes if key not in wanted]:
            _, lane = self._lanes.pop(gone)
            if lane is not None:
                await lane.aclose()

    async def aclose(self) -> None:
        await self.keep([])


def _retrieved(task: asyncio.Task[Any]) -> None:
    # every caller may have gone away: a failed attempt is then nobody's to report
    if not task.cancelled():
        task.exception()


class CoalescedPath:
    """The hot path where one lane cannot serve: a cluster (each key on its primary, down a
    lane to it, redirects followed) or TLS; concurrent callers still share round trips."""

    def __init__(self, client: Any, eager: bool = False) -> None:
        self._client = client
        self._lanes = Lanes(eager)
        self._coalescer = Coalescer(client, lanes=self._lanes)

    async def run(self, calls: Sequence[Call]) -> list[Any]:
        # all queued in this loop iteration: they go out in the same batch
        futures = [self._coalescer.submit(key, *command) for key, command in calls]
        replies = await asyncio.gather(*futures, return_exceptions=True)
        for reply in replies:
            if isinstance(reply, BaseException) and not isinstance(reply, Exception):
                raise reply  # cancelled
        return list(replies)

    async def hashes(self, keys: Sequence[str]) -> list[dict[str, str]]:
        # many keys at once: one write down each primary's lane, all at once
        groups: dict[int, tuple[Lane, list[int]]] = {}
        for i, key in enumerate(keys):
            lane = self._lanes.of(self._client.node_client(key))
            if lane is None:  # TLS: redis-py's pipeline, one per primary
                pipe = self._client.pipeline(transaction=False)
                for k in keys:
                    pipe.hgetall(k)
                return list(await pipe.execute())
            groups.setdefault(id(lane), (lane, []))[1].append(i)
        found: list[Any] = [None] * len(keys)

        async def read(lane: Lane, at: list[int]) -> None:
            try:
                replies = await lane.execute([("HGETALL", keys[i]) for i in at])
            except Exception:
                self._coalescer.refresh_soon()
                raise
            for i, reply in zip(at, replies, strict=True):
                if isinstance(reply, (AskError, TryAgainError)):  # MOVED is an AskError
                    reply = await self._client.hgetall(keys[i])  # it follows the redirect
                found[i] = reply

        done = await asyncio.gather(
            *(read(lane, at) for lane, at in groups.values()), return_exceptions=True
        )
        succeeded(done)  # a primary out of reach: raised once every read has ended
        return succeeded(found)

    async def post(self, channel: str, message: str | bytes) -> int:
        return await self._coalescer.post(channel, message)

    def issue(self, commands: Sequence[tuple[Any, ...]]) -> asyncio.Future[list[Any]] | None:
        return None  # the coalescer sends with the rest of the loop's turn, or follows a redirect

    async def aclose(self) -> None:
        await self._lanes.aclose()


def hot_path(client: Any, eager: bool = False) -> HotPath:
    """A lane to the client's server where one can serve it, else the coalescer."""
    lane = Lane.of(client, eager)
    return lane if lane is not None else CoalescedPath(client, eager)
