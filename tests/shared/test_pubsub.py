"""Following a pub/sub channel (shared.pubsub): subscribed again, with a gap, after the
connection is killed, on one server and on a cluster; on one server every message handed on
from the read itself, the server's database and login honoured, an idle connection pinged,
and a server that stops answering given up as a dropped connection is."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
import redis.asyncio as redis

from shared import pubsub
from shared.pubsub import Subscription
from shared.settings import Settings


async def _until(check: object, timeout: float = 10) -> None:
    assert callable(check)
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("topology", ["standalone", "cluster"], indirect=True)
async def test_a_subscription_comes_back_after_its_connection_is_killed(
    backend: tuple[Settings, redis.Redis], uid: str
) -> None:
    _, rds = backend
    channel = f"t:{uid}:ch"
    got: list[str] = []
    gaps: list[int] = []
    subscription = Subscription(rds, channel, got.append, on_gap=lambda: gaps.append(1))
    await subscription.start()
    try:
        assert await rds.post(channel, "one") == 1
        await _until(lambda: got == ["one"])
        kind = "pubsub"
        await rds.node_client(channel).client_kill_filter(_type=kind)
        await _until(lambda: bool(gaps))

        async def delivered() -> bool:
            return await rds.post(channel, "two") == 1

        for _ in range(100):
            if await delivered():
                break
            await asyncio.sleep(0.05)
        await _until(lambda: "two" in got)
    finally:
        await subscription.stop()


async def test_a_failing_gap_handler_leaves_the_subscription_in_place(
    backend: tuple[Settings, redis.Redis], uid: str
) -> None:
    _, rds = backend
    channel = f"t:{uid}:ch"
    got: list[str] = []
    gaps: list[int] = []

    def broken_gap_handler() -> None:
        gaps.append(1)
        raise RuntimeError("a bug in the owner's handler")

    subscription = Subscription(rds, channel, got.append, on_gap=broken_gap_handler)
    await subscription.start()
    try:
        await rds.node_client(channel).client_kill_filter(_type="pubsub")
        await _until(lambda: len(gaps) >= 2)  # at the loss, and once subscribed again
        assert await rds.post(channel, "after") == 1
        await _until(lambda: got == ["after"])
    finally:
        await subscription.stop()


def _client(rds: redis.Redis, **kw: object) -> redis.Redis:
    at = rds.connection_pool.connection_kwargs
    return redis.Redis(host=at["host"], port=at["port"], decode_responses=True, **kw)  # type: ignore[arg-type]


@pytest.fixture
async def db3(rds: redis.Redis) -> AsyncIterator[redis.Redis]:
    client = _client(rds, db=3)
    yield client
    await client.aclose()


async def test_each_message_is_handed_on_from_the_read_not_a_task(
    db3: redis.Redis, uid: str
) -> None:
    """No task to wake first: a command does not wait a loop turn behind telemetry."""
    got: list[tuple[str | bytes, bool]] = []
    subscription = Subscription(db3, f"t:{uid}", lambda d: got.append((d, _in_a_task())))
    await subscription.start()
    try:
        assert await db3.publish(f"t:{uid}", "é") == 1
        await _until(lambda: bool(got))
        assert got == [("é", False)]
    finally:
        await subscription.stop()


def _in_a_task() -> bool:
    try:
        return asyncio.current_task() is not None
    except RuntimeError:
        return False


async def test_a_failing_handler_leaves_the_subscription_in_place(
    rds: redis.Redis, uid: str
) -> None:
    got: list[str | bytes] = []

    def handler(data: str | bytes) -> None:
        got.append(data)
        if data == "bad":
            raise ValueError(data)

    subscription = Subscription(rds, f"t:{uid}", handler)
    await subscription.start()
    try:
        await rds.publish(f"t:{uid}", "bad")
        await rds.publish(f"t:{uid}", "good")
        await _until(lambda: got == ["bad", "good"])
    finally:
        await subscription.stop()


async def test_a_refused_login_fails_the_start(rds: redis.Redis, uid: str) -> None:
    client = _client(rds, password="not-the-password")
    try:
        with pytest.raises(redis.ConnectionError, match="refused"):
            await Subscription(client, f"t:{uid}", print).start()
    finally:
        await client.aclose()


async def test_an_idle_subscription_is_pinged_and_stays(
    rds: redis.Redis, uid: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pubsub, "IDLE_SECONDS", 0.1)
    got: list[str | bytes] = []
    gaps: list[int] = []
    subscription = Subscription(rds, f"t:{uid}", got.append, on_gap=lambda: gaps.append(1))
    await subscription.start()
    try:
        pinged = False
        for _ in range(250):
            clients = await rds.client_list(_type="pubsub")
            if any(c.get("cmd") == "ping" for c in clients):
                pinged = True
                break
            await asyncio.sleep(0.02)
        assert pinged
        await rds.publish(f"t:{uid}", "still here")
        await _until(lambda: got == ["still here"])
        assert gaps == []
    finally:
        await subscription.stop()


# A fake server's answer to SUBSCRIBE ch.
_SUBSCRIBED = b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
Serve = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def _subscribed_to(serve: Serve) -> AsyncIterator[list[int]]:
    """A subscription to channel ch on a fake server that speaks as `serve` says; its gaps."""
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    client = redis.Redis(host="127.0.0.1", port=server.sockets[0].getsockname()[1])
    gaps: list[int] = []
    subscription = Subscription(client, "ch", print, on_gap=lambda: gaps.append(1))
    try:
        await subscription.start()
        yield gaps
    finally:
        await subscription.stop()
        await client.aclose()
        server.close()


async def test_a_quiet_subscription_is_given_up_only_after_an_unanswered_ping(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Quiet is not silence. Here the confirmation comes 50 ms after the connection, so the
    first check finds the connection not quite idle; a busy loop then runs the next check late.
    The server, which answers every ping, must be pinged rather than given up."""
    monkeypatch.setattr(pubsub, "IDLE_SECONDS", 0.3)
    monkeypatch.setattr(pubsub, "SOCKET_TIMEOUT", 0.5)
    subscribes = 0

    async def answers_every_ping(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        nonlocal subscribes
        await reader.readuntil(b"SUBSCRIBE\r\n")
        subscribes += 1
        await asyncio.sleep(0.05)
        writer.write(_SUBSCRIBED)
        while await reader.readuntil(b"PING\r\n"):
            writer.write(b"*2\r\n$4\r\npong\r\n$0\r\n\r\n")

    async with _subscribed_to(answers_every_ping) as gaps:  # ~50 ms after the connection
        # busy from before the second check until idle + timeout after the confirmation
        asyncio.get_running_loop().call_later(0.5, time.sleep, 0.35)
        await asyncio.sleep(1.2)  # the absence of a gap is the point: no condition to wait on
        assert (subscribes, gaps) == (1, [])


async def test_a_server_that_stops_answering_is_given_up_with_a_gap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pubsub, "IDLE_SECONDS", 0.1)
    monkeypatch.setattr(pubsub, "SOCKET_TIMEOUT", 0.2)
    monkeypatch.setattr(pubsub, "RETRY_DELAY", 0.05)
    subscribes = 0

    async def confirms_then_goes_silent(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        nonlocal subscribes
        await reader.readuntil(b"SUBSCRIBE\r\n")
        subscribes += 1
        writer.write(_SUBSCRIBED)
        await reader.read()  # pings go unanswered until the client gives up

    async with _subscribed_to(confirms_then_goes_silent) as gaps:
        await _until(lambda: subscribes >= 2 and len(gaps) >= 2)  # lost, then subscribed again
