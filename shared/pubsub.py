"""Following one pub/sub channel: the one listen loop of csms nodes and gateways.

On a Redis Cluster the channel is a sharded channel (SSUBSCRIBE) on the primary that holds
its slot, followed through redis-py; on a single server (TCP or a Unix socket) a plain one, on
a connection of our own whose every message is handed on as it is read. That is a command's
way into a csms and its reply's way back into a gateway: redis-py's listener is a task the
event loop must first wake, behind every telemetry message read in the same turn, and it costs
a stream reader and a timeout context per message. A lost connection, a failover or a slot
that moved (the server then ends the subscription itself) leads to subscribing again wherever
the channel lives now; messages published in the gap are lost, which `on_gap` is told about.
Publishing is `r.post(channel, message)` (shared.redis_client).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import hiredis
import redis.asyncio as redis
from redis.exceptions import ResponseError

from shared.process import cancel
from shared.redis_batch import reread_slot_map
from shared.redis_client import SOCKET_TIMEOUT
from shared.redis_lane import IDLE_SECONDS, Lane, tune

log = logging.getLogger(__name__)

OnMessage = Callable[[str | bytes], None]
CONFIRM_TIMEOUT = 5.0
RETRY_DELAY = 0.5


class Subscription:
    """Subscribes to `channel` and hands every message's data to `on_message`."""

    def __init__(
        self,
        r: Any,
        channel: str,
        on_message: OnMessage,
        on_gap: Callable[[], None] | None = None,
        name: str = "channel",
    ) -> None:
        self._redis = r
        self.channel = channel
        self._on_message = on_message
        self._on_gap = on_gap
        self._name = name
        self._lane = Lane.of(r)  # a single server's address; None on a cluster or over TLS
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Return once Redis confirmed the subscription: nothing published after is missed."""
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._task = asyncio.get_running_loop().create_task(self._run(ready))
        try:
            await ready
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        await cancel(self._task)
        self._task = None

    async def _run(self, ready: asyncio.Future[None]) -> None:
        while True:
            try:
                if self._lane is not None:
                    await self._follow_directly(self._lane, ready)
                else:
                    await self._follow_with_redis_py(ready)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not ready.done():
                    ready.set_exception(exc)
                    return
                log.warning(
                    "pub/sub connection lost; subscribing again",
                    extra={"channel": self._name, "error": repr(exc)},
                )
                self._gap()
                await asyncio.sleep(RETRY_DELAY)
                await reread_slot_map(self._redis)

    def _subscribed(self, ready: asyncio.Future[None]) -> None:
        if not ready.done():
            ready.set_result(None)
        else:  # subscribed again: what came meanwhile is lost
            self._gap()

    def _gap(self) -> None:
        """Tell the owner messages may have been missed; its handler failing ends nothing."""
        if self._on_gap is None:
            return
        try:
            self._on_gap()
        except Exception:
            log.exception("pub/sub gap handler failed", extra={"channel": self._name})

    async def _follow_directly(self, lane: Lane, ready: asyncio.Future[None]) -> None:
        """Until the connection drops or the server ends the subscription."""
        hello = lane.hello
        transport, listener = await lane.open(
            lambda: _Listener(self._on_message, self._name, len(hello))
        )
        try:
            transport.write(
                b"".join(hiredis.pack_command(c) for c in [*hello, ("SUBSCRIBE", self.channel)])
            )
            async with asyncio.timeout(CONFIRM_TIMEOUT):
                await asyncio.shield(listener.subscribed)
            self._subscribed(ready)
            await listener.ended
        finally:
            listener.close()

    async def _follow_with_redis_py(self, ready: asyncio.Future[None]) -> None:
        pubsub = self._redis.node_client(self.channel).pubsub()
        try:
            await self._subscribe(pubsub)
            self._subscribed(ready)
            await self._listen(pubsub)
        finally:  # at once, before any pause: redis-py may have subscribed it again
            await _close(pubsub)

    async def _subscribe(self, pubsub: Any) -> None:
        sharded = self._redis.sharded
        if sharded:
            await pubsub.ssubscribe(self.channel)
        else:
            await pubsub.subscribe(self.channel)
        confirm = "ssubscribe" if sharded else "subscribe"
        async with asyncio.timeout(CONFIRM_TIMEOUT):
            while True:
                message = await pubsub.get_message(timeout=CONFIRM_TIMEOUT)
                if message is not None and message["type"] == confirm:
                    return

    async def _listen(self, pubsub: Any) -> None:
        """Until the server ends the subscription (its slot moved) or the connection drops."""
        while True:
            message = await pubsub.get_message(timeout=None)
            if message is None:
                continue
            kind = message["type"]
            if kind in ("message", "smessage"):
                _hand_on(self._on_message, message["data"], self._name)
            elif kind in ("sunsubscribe", "unsubscribe"):
                raise ConnectionError("the server ended the subscription (its slot moved)")


async def _close(pubsub: Any) -> None:
    try:
        await pubsub.aclose()
    except Exception:  # its connection is gone already
        pass


def _hand_on(on_message: OnMessage, data: str | bytes, name: str) -> None:
    try:
        on_message(data)
    except Exception:
        log.exception("pub/sub message handler failed", extra={"channel": name})


class _Listener(asyncio.Protocol):
    """A subscriber's own connection to a single server. Every message goes to `on_message`
    as soon as it is parsed; `ended` fails when the connection or the subscription ends. An
    idle connection is pinged, and given up when the ping goes unanswered."""

    def __init__(self, on_message: OnMessage, name: str, hello: int) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._on_message = on_message
        self._name = name
        self._hello = hello  # replies to AUTH/SELECT still to come, before the subscription's
        # what redis-py gives with decode_responses; a message that is not UTF-8 is replaced
        self._reader = hiredis.Reader(encoding="utf-8", errors="replace", replyError=ResponseError)
        self.subscribed: asyncio.Future[None] = loop.create_future()
        self.ended: asyncio.Future[None] = loop.create_future()
        self._transport: asyncio.Transport | None = None
        self._heard = loop.time()
        self._pinged: float | None = None  # when the ping nothing has been heard since went
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass
        tune(transport)
        self._timer = self._loop.call_later(IDLE_SECONDS, self._check)

    def data_received(self, data: bytes) -> None:
        self._heard = self._loop.time()
        self._pinged = None
        self._reader.feed(data)
        while True:
            try:
                reply = self._reader.gets()
            except Exception as exc:  # not RESP: the stream is lost
                self._end(redis.ConnectionError(f"unreadable reply from Redis: {exc!r}"))
                return
            if reply is False:
                return
            if isinstance(reply, ResponseError):
                self._end(redis.ConnectionError(f"Redis refused the subscription: {reply}"))
                return
            if self._hello:
                self._hello -= 1
            elif isinstance(reply, list) and reply:
                self._on_push(reply)

    def _on_push(self, reply: list[Any]) -> None:
        kind = reply[0]
        if kind == "message":
            _hand_on(self._on_message, reply[2], self._name)
        elif kind == "subscribe":
            if not self.subscribed.done():
                self.subscribed.set_result(None)
        elif kind == "unsubscribe":
            self._end(redis.ConnectionError("the server ended the subscription"))
        # "pong": an idle connection's ping answered; being heard is all it says

    def _check(self) -> None:
        """Ping a connection quiet for IDLE_SECONDS; give it up once a ping has gone
        unanswered for SOCKET_TIMEOUT, and only then."""
        if self._transport is None:  # closed
            return
        now = self._loop.time()
        if self._pinged is not None:
            if now - self._pinged >= SOCKET_TIMEOUT:
                self._end(redis.TimeoutError("no answer to a ping on the subscription"))
                return
            wait = self._pinged + SOCKET_TIMEOUT - now
        elif now - self._heard >= IDLE_SECONDS:
            self._transport.write(hiredis.pack_command(("PING",)))
            self._pinged = now
            wait = SOCKET_TIMEOUT
        else:
            wait = self._heard + IDLE_SECONDS - now
        self._timer = self._loop.call_later(wait, self._check)

    def connection_lost(self, exc: Exception | None) -> None:
        self._end(redis.ConnectionError(f"Redis closed the connection: {exc or 'EOF'}"))

    def _end(self, error: Exception) -> None:
        for fut in (self.subscribed, self.ended):
            if not fut.done():
                fut.set_exception(error)
        self.close()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._transport is not None:
            self._transport.abort()
            self._transport = None
        for fut in (self.subscribed, self.ended):
            if fut.done() and not fut.cancelled():
                fut.exception()  # retrieved: its caller may have left on the other
            elif not fut.done():
                fut.cancel()
