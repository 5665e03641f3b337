"""The coalescer: concurrent single commands share round trips, each caller gets its own reply
or error, on one server and on a cluster whose keys live on different primaries (down a lane
to each, as a node sends them, or in redis-py's pipelines, as over TLS)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis
from redis.exceptions import ResponseError

from shared.pubsub import Subscription
from shared.redis_batch import Coalescer
from shared.redis_client import connect
from shared.redis_lane import Lane, Lanes
from shared.settings import Settings


@pytest.fixture
async def lanes() -> AsyncIterator[Lanes]:
    """The coalescer's lanes as a node gives them: to the server, or to each primary."""
    made = Lanes()
    yield made
    await made.aclose()


_SCRIPT = "return {redis.call('HINCRBY', KEYS[1], 'n', ARGV[1]), ARGV[2]}"


async def test_concurrent_calls_share_batches_and_get_their_own_replies(
    backend: tuple[Settings, redis.Redis], lanes: Lanes, uid: str
) -> None:
    _, r = backend
    keys = [f"{{{uid}-{i}}}:h" for i in range(200)]
    for i, key in enumerate(keys):
        await r.hset(key, mapping={"i": str(i)})
    batcher = Coalescer(r, lanes=lanes)
    replies = await asyncio.gather(*(batcher.execute(k, "HGETALL", k) for k in keys))
    assert replies == [{"i": str(i)} for i in range(200)]
    assert batcher.batches < 20  # not one round trip per call


async def test_one_callers_error_is_its_own(
    backend: tuple[Settings, redis.Redis], lanes: Lanes, uid: str
) -> None:
    _, r = backend
    good, wrong_type = f"{uid}:good", f"{uid}:list"
    await r.set(good, "1")
    await r.rpush(wrong_type, "x")
    batcher = Coalescer(r, lanes=lanes)
    ok, bad = await asyncio.gather(
        batcher.execute(good, "GET", good),
        batcher.execute(wrong_type, "HGETALL", wrong_type),
        return_exceptions=True,
    )
    assert ok == "1"
    assert isinstance(bad, ResponseError) and "WRONGTYPE" in str(bad)


async def test_a_script_runs_by_hash_and_is_loaded_when_the_server_lacks_it(
    backend: tuple[Settings, redis.Redis], lanes: Lanes, uid: str
) -> None:
    _, r = backend
    script = r.register_script(_SCRIPT + f" -- {uid}")  # a hash no server has seen
    batcher = Coalescer(r, lanes=lanes)
    key = f"{uid}:counter"
    first = await batcher.script(script, [key], [2, "a"])
    second, third = await asyncio.gather(
        batcher.script(script, [key], [3, "b"]), batcher.script(script, [key], [4, "c"])
    )
    assert first == [2, "a"]
    assert (second, third) == ([5, "b"], [9, "c"])  # one pipeline, in the callers' order
    assert await r.hget(key, "n") == "9"


async def test_many_callers_of_a_missing_script_load_it_once_and_stay_batched(
    backend: tuple[Settings, redis.Redis], lanes: Lanes, uid: str
) -> None:
    _, r = backend
    registered = r.register_script(_SCRIPT + f" -- {uid}")  # a hash no server has seen
    slow_way: list[object] = []

    class Spy:  # the script as the coalescer sees it; calling it is the one-by-one fallback
        sha, script = registered.sha, registered.script

        async def __call__(self, **kwargs: object) -> object:
            slow_way.append(kwargs)
            return await registered(**kwargs)

    batcher = Coalescer(r, lanes=lanes)
    keys = [f"{{{uid}-{i}}}:n" for i in range(300)]  # on a cluster, on every primary
    replies = await asyncio.gather(*(batcher.script(Spy(), [k], [1, k]) for k in keys))
    assert replies == [[1, k] for k in keys]
    assert slow_way == []  # all went by hash once the script was loaded
    assert batcher.batches < 20


async def test_a_lost_server_fails_every_waiting_caller(settings: Settings, uid: str) -> None:
    # nothing listens there; "standalone" skips asking it whether it is a cluster
    unreachable = await connect("redis://127.0.0.1:1", mode="standalone")
    batcher = Coalescer(unreachable)
    replies = await asyncio.gather(
        *(batcher.execute(f"{uid}:{i}", "GET", f"{uid}:{i}") for i in range(3)),
        return_exceptions=True,
    )
    assert all(isinstance(e, redis.ConnectionError) for e in replies)
    await unreachable.aclose()


@pytest.mark.parametrize("calls", [1, 50])
async def test_a_cancelled_caller_does_not_break_the_batch(
    backend: tuple[Settings, redis.Redis], lanes: Lanes, uid: str, calls: int
) -> None:
    _, r = backend
    key = f"{uid}:k"
    await r.set(key, "v")
    batcher = Coalescer(r, lanes=lanes)
    doomed = asyncio.ensure_future(batcher.execute(key, "GET", key))
    others = [asyncio.ensure_future(batcher.execute(key, "GET", key)) for _ in range(calls)]
    doomed.cancel()
    assert await asyncio.gather(*others) == ["v"] * calls


async def test_posts_share_batches_and_reach_the_channels_subscriber(
    backend: tuple[Settings, redis.Redis], uid: str
) -> None:
    _, r = backend
    heard: list[str | bytes] = []
    all_heard = asyncio.Event()

    def hear(message: str | bytes) -> None:
        heard.append(message)
        if len(heard) == 300:
            all_heard.set()

    channels = [f"{uid}:node-{i}" for i in range(3)]  # on a cluster, on different shards
    subscriptions = [Subscription(r, channel, hear) for channel in channels]
    for subscription in subscriptions:
        await subscription.start()
    batcher = Coalescer(r)
    try:
        receivers = await asyncio.gather(
            *(batcher.post(channels[i % 3], f"m{i}") for i in range(300))
        )
        assert receivers == [1] * 300  # each message reached its one subscriber
        assert batcher.batches < 30  # not one round trip per message
        await asyncio.wait_for(all_heard.wait(), 10)
        assert sorted(map(str, heard)) == sorted(f"m{i}" for i in range(300))
    finally:
        for subscription in subscriptions:
            await subscription.stop()


async def test_on_a_lane_replies_errors_and_missing_scripts_are_each_callers_own(
    rds: redis.Redis, uid: str
) -> None:
    lane = Lane.of(rds)
    assert lane is not None
    batcher = Coalescer(rds, lane=lane)
    good, wrong_type = f"{uid}:good", f"{uid}:list"
    await rds.hset(good, mapping={"a": "1"})
    await rds.rpush(wrong_type, "x")
    script = rds.register_script(_SCRIPT + f" -- lane {uid}")  # a hash no server has seen
    try:
        fields, bad, *ran = await asyncio.gather(
            batcher.execute(good, "HGETALL", good),
            batcher.execute(wrong_type, "HGETALL", wrong_type),
            *(batcher.script(script, [f"{uid}:n"], [1, str(i)]) for i in range(50)),
            return_exceptions=True,
        )
    finally:
        await lane.aclose()
    assert fields == {"a": "1"}  # shaped as redis-py shapes it
    assert isinstance(bad, ResponseError) and "WRONGTYPE" in str(bad)
    assert sorted(n for n, _ in ran) == list(range(1, 51))  # each ran once
    assert batcher.batches < 10


@pytest.mark.parametrize("via", ["pipelines", "lanes"])
async def test_a_call_sent_to_a_primary_that_lost_its_slot_follows_the_redirect(
    cluster_rds: redis.Redis, uid: str, monkeypatch: pytest.MonkeyPatch, via: str
) -> None:
    """A slot map read before the slot moved: the primary answers MOVED, the call goes on."""
    key = f"{{{uid}}}:moved"
    await cluster_rds.hset(key, mapping={"n": "7"})
    owner = cluster_rds.get_node_from_key(key)
    [elsewhere, *_] = [n for n in cluster_rds.get_primaries() if n.name != owner.name]
    stale = cluster_rds.client_at(elsewhere.host, elsewhere.port)
    monkeypatch.setattr(cluster_rds, "node_client", lambda _key: stale)
    lanes = Lanes() if via == "lanes" else None
    batcher = Coalescer(cluster_rds, lanes=lanes)
    try:
        assert await batcher.execute(key, "HGET", key, "n") == "7"
        assert await batcher.post(f"{{{uid}}}:channel", "nobody listens") == 0
    finally:
        if lanes is not None:
            await lanes.aclose()
