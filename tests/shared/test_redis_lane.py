"""The hot path to Redis (shared.redis_lane): a request's commands in one round trip, each reply
in its place (an error reply as its exception), on one server (a lane) and on a cluster (the
coalescer); the rate limit with the read beside it; what a lane does when Redis goes away."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio as redis
import uvloop
from redis.exceptions import NoScriptError, ResponseError

from gateway.ratelimit import _SCRIPT, RateLimiter
from shared.redis_batch import Coalescer
from shared.redis_client import UNAVAILABLE, connect
from shared.redis_keys import Keys
from shared.redis_lane import CoalescedPath, Lane, Lanes, _Connection, hot_path
from shared.registry import KeyRecord
from shared.settings import Settings


def _record(partner_id: str, minute: int, hour: int = 1000) -> KeyRecord:
    return KeyRecord("k1", partner_id, "active", minute, hour, None, False)


async def test_replies_in_order_with_errors_in_their_place(
    backend: tuple[Settings, redis.Redis], uid: str
) -> None:
    _, r = backend
    path = hot_path(r)
    assert isinstance(path, CoalescedPath if getattr(r, "sharded", False) else Lane)
    h, lst = f"{{{uid}-a}}:h", f"{{{uid}-b}}:list"
    await r.hset(h, mapping={"x": "1", "y": "two"})
    await r.rpush(lst, "v")
    try:
        got, wrong, missing, script = await path.run(
            [
                (h, ("HGETALL", h)),
                (lst, ("HGETALL", lst)),
                (f"{uid}:none", ("HGETALL", f"{uid}:none")),
                (h, ("EVALSHA", "0" * 40, 1, h)),
            ]
        )
        assert got == {"x": "1", "y": "two"}
        assert isinstance(wrong, ResponseError) and "WRONGTYPE" in str(wrong)
        assert missing == {}
        assert isinstance(script, NoScriptError)
        assert await path.hashes([h, f"{uid}:none"]) == [{"x": "1", "y": "two"}, {}]
        assert await path.hashes([]) == [] and await path.run([]) == []
        with pytest.raises(ResponseError):
            await path.hashes([h, lst])
    finally:
        await path.aclose()


async def test_the_limit_reads_beside_it_and_a_refused_request_reads_nothing(
    backend: tuple[Settings, redis.Redis], uid: str
) -> None:
    settings, r = backend
    keys = Keys(f"{settings.redis_prefix}{uid}")
    limiter = RateLimiter(r, keys, 100, 1000)
    partner, charger = f"p{uid}", keys.charger(f"CP-{uid}")
    await r.hset(charger, mapping={"owner": partner, "reg": "1"})
    try:
        first, fields = await limiter.hit_and_read(_record(partner, 2), charger)
        assert first.allowed and (first.limit, first.remaining) == (2, 1)
        assert fields == {"owner": partner, "reg": "1"}
        second = await limiter.hit(_record(partner, 2))
        assert second.allowed and second.remaining == 0
        third, fields = await limiter.hit_and_read(_record(partner, 2), charger)
        assert not third.allowed and 1 <= third.reset <= 60
        assert fields is None  # read in the same round trip, but not handed out
        counters = await r.hgetall(keys.rate(partner))
        assert sum(int(n) for f, n in counters.items() if f.startswith("m")) == 2
    finally:
        await limiter.aclose()
        await r.delete(charger, keys.rate(partner))


async def test_requests_that_find_the_script_missing_load_it_once_and_still_read(
    backend: tuple[Settings, redis.Redis], uid: str
) -> None:
    """A burst after a restart or a failover waits for one load, not one each, and every
    request still gets the read that rode along."""
    settings, r = backend
    keys = Keys(f"{settings.redis_prefix}{uid}")
    limiter = RateLimiter(r, keys, 1000, 1000)
    limiter._script = r.register_script(_SCRIPT + f"\n-- {uid}")  # a hash no server has seen
    rate_key, charger = keys.rate(f"p{uid}"), keys.charger(f"CP-{uid}")
    await r.hset(charger, mapping={"reg": "1"})
    primary = r.node_client(rate_key)
    loads_before = await _script_loads(primary)
    try:
        answers = await asyncio.gather(
            *(limiter.hit_and_read(_record(f"p{uid}", 1000), charger) for _ in range(50))
        )
        assert all(d.allowed and fields == {"reg": "1"} for d, fields in answers)
        assert sorted(d.remaining for d, _ in answers) == list(range(950, 1000))
        assert await _script_loads(primary) - loads_before == 1
        # the next request goes by hash at once
        decision, fields = await limiter.hit_and_read(_record(f"p{uid}", 1000), charger)
        assert decision.allowed and decision.remaining == 949 and fields == {"reg": "1"}
    finally:
        await limiter.aclose()
        await r.delete(charger, rate_key)


async def _script_loads(client: Any) -> int:
    stats = await client.info("commandstats")
    return int(stats.get("cmdstat_script|load", {}).get("calls", 0))


def _lane(r: redis.Redis, **overrides: Any) -> Lane:
    kw = r.connection_pool.connection_kwargs
    return Lane(host=kw["host"], port=kw["port"], **overrides)


async def test_concurrent_callers_share_writes_and_keep_their_order(
    rds: redis.Redis, uid: str
) -> None:
    lane = _lane(rds)
    keys = [f"{uid}:{i}" for i in range(50)]
    try:
        await lane.execute([("PING",)])
        conn = lane._conn
        assert conn is not None and conn.transport is not None
        writes = 0
        write = conn.transport.write

        def counting(data: Any) -> None:
            nonlocal writes
            writes += 1
            write(data)

        conn.transport.write = counting  # type: ignore[method-assign]
        doomed = asyncio.ensure_future(lane.execute([("INCR", keys[0])]))
        replies = [lane.execute([("SET", k, i), ("GET", k)]) for i, k in enumerate(keys)]
        doomed.cancel()  # a caller that goes away leaves the others their replies
        assert await asyncio.gather(*replies) == [["OK", str(i)] for i in range(50)]
        assert writes == 1
    finally:
        await lane.aclose()
        await rds.delete(*keys)


async def test_a_call_issued_now_is_run_before_the_calls_after_it(
    backend: tuple[Settings, redis.Redis], uid: str
) -> None:
    """What a csms relies on to send a remote start's CALL before Redis has stored its grant:
    the charger's lookup comes later on the same connection, and Redis answers in order."""
    _, r = backend
    path = hot_path(r, eager=True)
    key = f"{{{uid}}}:granted"
    try:
        if getattr(r, "sharded", False):
            assert path.issue([("SET", key, "1")]) is None  # the coalescer cannot ask at once
            return
        assert path.issue([("SET", key, "1")]) is None  # no connection yet: nothing asked
        assert await path.run([(key, ("EXISTS", key))]) == [0]
        asked = path.issue([("SET", key, "1")])
        assert asked is not None
        # asked after it, awaited before it: it finds the key set
        assert await path.run([(key, ("GET", key))]) == ["1"]
        assert await asked == ["OK"]
    finally:
        await path.aclose()
        await r.delete(key)


async def test_a_command_that_cannot_be_sent_sends_nothing_and_takes_no_reply(
    rds: redis.Redis, uid: str
) -> None:
    """An argument Redis has no form for fails its caller's call whole; the next caller still
    gets its own reply."""
    lane = Lane.of(rds)
    assert lane is not None
    await rds.set(f"{uid}:x", "x's value")
    try:
        with pytest.raises((TypeError, redis.DataError)):
            await lane.execute([("SET", f"{uid}:a", "1"), ("SET", f"{uid}:b", None)])
        assert await lane.execute([("GET", f"{uid}:x")]) == ["x's value"]
        assert await rds.exists(f"{uid}:a", f"{uid}:b") == 0
    finally:
        await lane.aclose()


async def test_a_reply_that_is_not_utf8_fails_alone(rds: redis.Redis, uid: str) -> None:
    """Its caller's other replies, and other callers', still arrive: the connection stays."""
    lane = Lane.of(rds)
    assert lane is not None
    await rds.set(f"{uid}:bad", b"\xff\xfe")  # bytes go as they are
    try:
        (bad, counted), (other,) = await asyncio.gather(
            lane.execute([("GET", f"{uid}:bad"), ("INCR", f"{uid}:n")]),
            lane.execute([("INCR", f"{uid}:n")]),
        )
        assert isinstance(bad, redis.DataError) and "UTF-8" in str(bad)
        assert (counted, other) == (1, 2)
        assert await lane.execute([("GET", f"{uid}:n")]) == ["2"]
    finally:
        await lane.aclose()


async def test_closing_a_lane_while_it_connects_fails_its_callers_rather_than_cancel_them() -> None:
    """Its own callers and a coalescer's get a ConnectionError; none is left waiting."""

    async def never_answers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    server = await asyncio.start_server(never_answers, "127.0.0.1", 0)
    lane = Lane(host="127.0.0.1", port=server.sockets[0].getsockname()[1], password="pw")
    coalescer = Coalescer(object(), lane=lane)
    try:
        direct = asyncio.ensure_future(lane.execute([("GET", "k")]))
        batched = asyncio.ensure_future(coalescer.execute("k", "GET", "k"))
        async with asyncio.timeout(10):
            while lane._connecting is None:  # noqa: ASYNC110 - the lane's own state
                await asyncio.sleep(0.01)
        await lane.aclose()
        for caller in (direct, batched):
            with pytest.raises(redis.ConnectionError, match="closed"):
                await asyncio.wait_for(caller, 5)
    finally:
        server.close()


async def test_a_lane_selects_its_database(rds: redis.Redis, uid: str) -> None:
    lane = _lane(rds, db=3)
    try:
        await lane.execute([("SET", f"{uid}:db", "3")])
        kw = rds.connection_pool.connection_kwargs
        other = redis.Redis(host=kw["host"], port=kw["port"], db=3)
        assert await other.get(f"{uid}:db") == b"3"
        await other.delete(f"{uid}:db")
        await other.aclose()
    finally:
        await lane.aclose()


async def test_unreachable_redis_is_unavailable_and_a_lost_connection_is_replaced(
    rds: redis.Redis,
) -> None:
    nowhere = Lane(host="127.0.0.1", port=1)
    with pytest.raises(UNAVAILABLE):
        await nowhere.execute([("PING",)])
    lane = _lane(rds)
    try:
        assert await lane.execute([("PING",)]) == ["PONG"]
        conn = lane._conn
        assert conn is not None and conn.transport is not None
        conn.transport.abort()  # the server or the network dropped it
        await asyncio.sleep(0.05)
        assert await lane.execute([("PING",)]) == ["PONG"]
    finally:
        await lane.aclose()


async def test_a_silent_server_times_out_every_waiting_caller() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1 << 16)
        await asyncio.sleep(5)
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    lane = Lane(host="127.0.0.1", port=port, timeout=0.2)
    try:
        replies = await asyncio.gather(
            lane.execute([("PING",)]), lane.execute([("PING",)]), return_exceptions=True
        )
        assert all(isinstance(e, redis.TimeoutError) for e in replies), replies
    finally:
        await lane.aclose()
        server.close()


async def test_a_lane_runs_on_uvloop(settings: Settings) -> None:
    """The gateway runs on uvloop, whose transports are not asyncio's classes."""
    assert settings.redis_url

    async def scenario() -> list[Any]:
        r = redis.Redis.from_url(settings.redis_url or "", decode_responses=True)
        lane = Lane.of(r)
        assert lane is not None
        try:
            return await asyncio.wait_for(lane.execute([("PING",), ("ECHO", "é")]), 5)
        finally:
            await lane.aclose()
            await r.aclose()

    # a loop of its own, in a thread, as `evcs gateway` runs
    assert await asyncio.to_thread(uvloop.run, scenario()) == ["PONG", "é"]


class _Recorded(asyncio.Transport):
    """A transport that keeps what is written (the lane's protocol logic, without a socket)."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written.append(bytes(data))

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


@pytest.mark.parametrize("eager", [False, True])
async def test_an_eager_connection_writes_each_call_at_once(eager: bool) -> None:
    conn = _Connection(eager)
    transport = _Recorded()
    conn.connection_made(transport)
    conn.send([("GET", "a")])
    conn.send([("GET", "b")])
    # eager: two writes before the loop turns; else one write of both, on the next turn
    assert len(transport.written) == (2 if eager else 0)
    await asyncio.sleep(0)
    assert b"".join(transport.written).count(b"GET") == 2
    assert len(transport.written) == (2 if eager else 1)


async def test_lanes_give_each_primary_one_lane_and_close_those_not_kept(
    cluster_rds: redis.Redis,
) -> None:
    lanes = Lanes()
    primaries = cluster_rds.primary_clients()
    try:
        opened = [lanes.of(client) for client in primaries]
        assert all(isinstance(lane, Lane) for lane in opened)
        assert len({id(lane) for lane in opened}) == len(primaries) > 1
        assert [lanes.of(client) for client in primaries] == opened  # the same ones again
        assert lanes.of(cluster_rds) is None  # the cluster client is no one server
        for lane in opened:
            assert await lane.execute([("PING",)]) == ["PONG"]
        await lanes.keep(primaries[:1])
        with pytest.raises(redis.ConnectionError, match="closed"):
            await opened[1].execute([("PING",)])
        assert await opened[0].execute([("PING",)]) == ["PONG"]
        assert lanes.of(primaries[1]) is not opened[1]  # asked again: a new one
    finally:
        await lanes.aclose()
    with pytest.raises(redis.ConnectionError, match="closed"):
        await opened[0].execute([("PING",)])


async def test_many_hashes_on_a_cluster_follow_a_slot_that_moved(
    cluster_rds: redis.Redis, uid: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read from a slot map older than a slot's move: the primary answers MOVED for those keys
    and they are read where the slot is now, each in its place."""
    keys = [f"{{{uid}-{i}}}:h" for i in range(30)]  # on every primary
    for i, key in enumerate(keys):
        await cluster_rds.hset(key, mapping={"i": str(i)})
    [stale, *_] = cluster_rds.primary_clients()
    monkeypatch.setattr(cluster_rds, "node_client", lambda _key: stale)
    path = hot_path(cluster_rds)
    try:
        assert await path.hashes(keys) == [{"i": str(i)} for i in range(30)]
    finally:
        await path.aclose()


async def test_a_primary_out_of_reach_has_the_slot_map_read_again(
    cluster_rds: Any, uid: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The slot map still names a primary that died, and a gateway's calls all go down lanes:
    nothing else would read the map again, and every request would fail until a restart."""
    key = f"{{{uid}}}:h"
    await cluster_rds.hset(key, mapping={"n": "1"})
    gone = await connect("redis://127.0.0.1:1", mode="standalone")  # nothing listens there
    owner = cluster_rds.node_client
    monkeypatch.setattr(cluster_rds, "node_client", lambda _key: gone)
    read_again = asyncio.Event()
    refresh = cluster_rds.refresh_topology

    async def refreshed() -> None:
        monkeypatch.setattr(cluster_rds, "node_client", owner)  # the map names the new owner
        await refresh()
        read_again.set()

    monkeypatch.setattr(cluster_rds, "refresh_topology", refreshed)
    path = hot_path(cluster_rds)
    try:
        with pytest.raises(UNAVAILABLE):
            await path.hashes([key])
        await asyncio.wait_for(read_again.wait(), 5)
        assert await path.hashes([key]) == [{"n": "1"}]
        monkeypatch.setattr(cluster_rds, "node_client", lambda _key: gone)
        read_again.clear()
        [lost] = await path.run([(key, ("HGETALL", key))])
        assert isinstance(lost, UNAVAILABLE)
        await asyncio.wait_for(read_again.wait(), 5)
        assert await path.run([(key, ("HGETALL", key))]) == [{"n": "1"}]
    finally:
        await path.aclose()
        await gone.aclose()
