"""The state writer: concurrent chargers' writes share round trips (a lane to the server, or
to each primary of a cluster), each write is answered once its events are in, and one
that fails fails alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest
import redis.asyncio as redis
from prometheus_client import REGISTRY

from csms import store
from csms.store import StateWriter
from shared import events as ev
from shared.redis_client import UNAVAILABLE, connect
from shared.redis_keys import F, Keys
from shared.redis_lane import Lane, Lanes
from shared.settings import Settings
from tests.csms.conftest import until


@asynccontextmanager
async def _writer(r: Any, keys: Keys) -> AsyncIterator[StateWriter]:
    """A writer as a node makes it: down a lane to the server, or to each primary."""
    lanes = Lanes()
    try:
        yield StateWriter(r, keys, lanes=lanes)
    finally:
        await lanes.aclose()


async def test_concurrent_writes_share_round_trips_and_land_whole(
    backend: tuple[Settings, redis.Redis], uid: str
) -> None:
    settings, r = backend
    keys = Keys.of(settings)
    chargers = [f"{uid}-{i}" for i in range(200)]
    async with _writer(r, keys) as writer:
        await asyncio.gather(
            *(
                writer.write(
                    cp, {"status": f"s{i}"}, [ev.connection(cp, 1.0, online=True, node="n")]
                )
                for i, cp in enumerate(chargers)
            )
        )
    assert writer.batches < 40  # not one round trip per charger
    for i, cp in enumerate(chargers):
        assert await r.hget(keys.charger(cp), "status") == f"s{i}"
    streams = {keys.stream_for(cp) for cp in chargers}
    stored = 0
    for stream in streams:
        for _, fields in await r.xrange(stream):
            if ev.decode(fields)["cp"] in chargers:
                stored += 1
    assert stored == 200  # every acknowledged event, once


async def test_a_write_that_fails_fails_alone(
    backend: tuple[Settings, redis.Redis], uid: str
) -> None:
    settings, r = backend
    keys = Keys.of(settings)
    bad, good = f"{uid}-bad", f"{uid}-good"
    await r.set(keys.charger(bad), "not a hash")  # HSET on it answers WRONGTYPE
    online = ev.connection(good, 1.0, online=True, node="n")
    async with _writer(r, keys) as writer:
        failed, ok = await asyncio.gather(
            writer.write(bad, {"status": "x"}, []),
            writer.write(good, {"status": "y"}, [online]),
            return_exceptions=True,
        )
    assert isinstance(failed, redis.ResponseError) and "WRONGTYPE" in str(failed)
    assert ok is None
    assert await r.hget(keys.charger(good), "status") == "y"


async def _stream_events(r: redis.Redis, keys: Keys, cp: str) -> list[str]:
    return [
        e["type"] for _, f in await r.xrange(keys.stream_for(cp)) if (e := ev.decode(f))["cp"] == cp
    ]


async def test_on_one_server_a_transactions_write_of_a_replaced_connection_is_refused(
    settings: Settings, rds: redis.Redis, uid: str
) -> None:
    """A write fenced by a connection's generation lands whole while that connection is the
    charger's, counting itself in the hash, and not at all once a newer one has attached; a
    refusal is not counted as Redis failing."""
    keys = Keys.of(settings)
    cp = f"{uid}-fenced"
    await rds.hset(keys.charger(cp), F.GENERATION, "1/a")
    async with _writer(rds, keys) as writer:
        await store.written(writer.submit, cp, _START, [_began(cp)], "1/a")
        assert await rds.hget(keys.charger(cp), F.TX_VERSION) == "1"
        await rds.hset(keys.charger(cp), F.GENERATION, "2/b")  # a newer connection attached
        errors = REGISTRY.get_sample_value("evcs_csms_redis_errors_total")
        with pytest.raises(store.Fenced):
            await store.written(writer.submit, cp, {F.ENDED: '["1"]'}, [_stop(cp)], "1/a")
        assert REGISTRY.get_sample_value("evcs_csms_redis_errors_total") == errors
    state = await rds.hgetall(keys.charger(cp))
    assert state[f"{F.TRANSACTION}1"] == "1" and F.ENDED not in state
    assert state[F.TX_VERSION] == "1"
    assert await _stream_events(rds, keys, cp) == ["tx_start"]


async def test_each_submitted_write_is_called_back_later_even_when_another_callback_fails(
    backend: tuple[Settings, redis.Redis], uid: str
) -> None:
    settings, r = backend
    heard: list[tuple[str, BaseException | None]] = []
    batch_done = asyncio.Event()

    def then(cp: str, failed: BaseException | None) -> None:
        heard.append((cp, failed))
        if cp.endswith("-0"):
            raise RuntimeError("a bug in the first caller")
        if len(heard) == 3:
            batch_done.set()

    async with _writer(r, Keys.of(settings)) as writer:
        for i in range(3):
            cp = f"{uid}-{i}"
            online = [ev.connection(cp, 1.0, online=True, node="n")]
            assert writer.submit(cp, None, online, lambda f, cp=cp: then(cp, f))
        assert heard == []  # never from within submit()
        assert not writer.submit(f"{uid}-nothing", None, [], lambda f: then("nothing", f))
        await asyncio.wait_for(batch_done.wait(), 10)
    assert heard == [(f"{uid}-{i}", None) for i in range(3)]


@pytest.mark.timeout(30)
async def test_a_lost_server_fails_every_waiting_write(settings: Settings, uid: str) -> None:
    # nothing listens there; "standalone" skips asking it whether it is a cluster
    unreachable = await connect("redis://127.0.0.1:1", mode="standalone")
    try:
        async with _writer(unreachable, Keys.of(settings)) as writer:
            results = await asyncio.gather(
                *(
                    writer.write(
                        f"{uid}-{i}",
                        None,
                        [ev.connection(f"{uid}-{i}", 1.0, online=True, node="n")],
                    )
                    for i in range(3)
                ),
                return_exceptions=True,
            )
    finally:
        await unreachable.aclose()
    assert all(isinstance(e, UNAVAILABLE) for e in results), results


class _HeldOnce:
    """The server's lane, except for the first batch `pick` chooses: held before it is sent (as
    a cluster's pipelines may overtake each other), or its reply held after (a slow network),
    until let go."""

    def __init__(
        self, lane: Lane, pick: Callable[[Sequence[tuple[Any, ...]]], bool], before: bool
    ) -> None:
        self._lane, self._pick, self._before = lane, pick, before
        self.holding, self.go = asyncio.Event(), asyncio.Event()

    async def execute(self, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        held = not self.holding.is_set() and self._pick(commands)
        if held and self._before:
            self.holding.set()
            await self.go.wait()
        replies = await self._lane.execute(commands)
        if held and not self._before:
            self.holding.set()
            await self.go.wait()
        return replies


@pytest.mark.parametrize("held", ["before it is sent", "after it is sent"])
async def test_a_rewrite_of_older_fields_never_leaves_them_over_a_newer_write(
    settings: Settings, rds: redis.Redis, uid: str, monkeypatch: pytest.MonkeyPatch, held: str
) -> None:
    """A hash write that failed after its message's events went in is written again later.
    A newer message of the charger's written meanwhile keeps the last word."""
    monkeypatch.setattr(store, "RETRY_FIELDS_AFTER", 0.01)
    keys = Keys.of(settings)
    key = keys.charger(uid)
    lane = Lane.of(rds)
    assert lane is not None
    slow = _HeldOnce(lane, lambda batch: [c[:2] for c in batch] == [("HSET", key)], held[0] == "b")
    writer = StateWriter(rds, keys, lane=slow)  # type: ignore[arg-type]
    online = [ev.connection(uid, 1.0, online=True, node="n")]
    try:
        await rds.set(key, "not a hash")  # its HSET answers WRONGTYPE; the event goes in
        await writer.write(uid, {"status": "Available"}, online)
        await asyncio.wait_for(slow.holding.wait(), 10)  # "Available" written again, held
        await rds.delete(key)
        await writer.write(uid, {"status": "Charging"}, online)  # the newer message
        slow.go.set()
        await _quiet(writer)
        assert await rds.hget(key, "status") == "Charging"
    finally:
        await lane.aclose()


TS = "2026-01-01T00:00:00Z"


def _stop(cp: str) -> ev.TxStopEvent:
    return ev.tx_stop(
        cp, 1.0, connector=1, transaction_id="1", meter_stop_wh=9.0, reason="Local", ts=TS
    )


_START = {f"{F.TX_START}1": "said", f"{F.TRANSACTION}1": "1"}


def _began(cp: str) -> ev.TxStartEvent:
    return ev.tx_start(
        cp, 1.0, connector=1, transaction_id="1", id_tag="T", meter_start_wh=0.0, ts=TS
    )


async def test_a_refused_writes_fields_are_not_written_by_a_rewrite_in_flight(
    settings: Settings, rds: redis.Redis, uid: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rewrite of older fields writes again what the charger's later writes set, lest it
    landed over them; never the fields of a write fenced off, which are not to be stored."""
    monkeypatch.setattr(store, "RETRY_FIELDS_AFTER", 0.01)
    keys = Keys.of(settings)
    key = keys.charger(uid)
    lane = Lane.of(rds)
    assert lane is not None
    slow = _HeldOnce(lane, lambda batch: [c[:2] for c in batch] == [("HSET", key)], True)
    writer = StateWriter(rds, keys, lane=slow)  # type: ignore[arg-type]
    online = [ev.connection(uid, 1.0, online=True, node="n")]
    try:
        await rds.set(key, "not a hash")  # its HSET answers WRONGTYPE; the event goes in
        await writer.write(uid, {F.RAW + "1": "Available"}, online)
        await asyncio.wait_for(slow.holding.wait(), 10)  # written again, held
        await rds.delete(key)
        await rds.hset(key, F.GENERATION, "2/b")  # a newer connection attached
        with pytest.raises(store.Fenced):
            await store.written(writer.submit, uid, _START, [_began(uid)], "1/a")
        slow.go.set()
        await _quiet(writer)
        state = await rds.hgetall(key)
        assert state[F.RAW + "1"] == "Available"
        assert f"{F.TRANSACTION}1" not in state and f"{F.TX_START}1" not in state
    finally:
        await lane.aclose()


class _Failing:
    """The server's lane, except that while `armed` a batch is lost before any of it runs."""

    def __init__(self, lane: Lane) -> None:
        self._lane = lane
        self.armed = False

    async def execute(self, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        if self.armed:
            self.armed = False
            raise redis.ConnectionError("Connection closed by server.")
        return await self._lane.execute(commands)


async def _quiet(writer: StateWriter) -> None:
    async def quiet() -> bool:  # nothing in flight, nothing held for later
        return not (writer._inflight or writer._unwritten or writer._retry_timer)

    await until(quiet, 10)


@pytest.fixture
async def lane(rds: redis.Redis) -> AsyncIterator[_Failing]:
    real = Lane.of(rds)
    assert real is not None
    yield _Failing(real)
    await real.aclose()


async def test_the_hash_of_a_message_that_failed_whole_is_not_written_later(
    settings: Settings, rds: redis.Redis, lane: _Failing, uid: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stop whose batch was lost is sent again by the charger: a hash written meanwhile
    saying it ended would have the resend taken for a repeat, and the stop never stored."""
    monkeypatch.setattr(store, "RETRY_FIELDS_AFTER", 0.01)
    keys = Keys.of(settings)
    writer = StateWriter(rds, keys, lane=lane)  # type: ignore[arg-type]
    stop = _stop(uid)
    lane.armed = True
    with pytest.raises(redis.ConnectionError):
        await writer.write(uid, {F.ENDED: '["1"]', f"{F.TRANSACTION}1": ""}, [stop])
    await writer.write(uid, {F.SEEN: "2.0"}, [])  # the next message goes through
    await _quiet(writer)
    assert await rds.hget(keys.charger(uid), F.ENDED) is None


async def test_fields_written_again_survive_a_later_message_that_fails(
    settings: Settings, rds: redis.Redis, lane: _Failing, uid: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A start's events went in but its hash did not: the hash is written again, and a later
    message (a Heartbeat) whose batch is lost does not take those fields down with it."""
    monkeypatch.setattr(store, "RETRY_FIELDS_AFTER", 0.01)
    keys = Keys.of(settings)
    key = keys.charger(uid)
    writer = StateWriter(rds, keys, lane=lane)  # type: ignore[arg-type]
    start = ev.tx_start(
        uid, 1.0, connector=1, transaction_id="1", id_tag="T", meter_start_wh=0.0, ts=TS
    )
    await rds.set(key, "not a hash")  # its HSET answers WRONGTYPE; the event goes in
    await writer.write(uid, {f"{F.TRANSACTION}1": "1"}, [start])  # answered: the event is in
    await rds.delete(key)
    lane.armed = True
    with pytest.raises(redis.ConnectionError):
        await writer.write(uid, {F.SEEN: "2.0"}, [])
    await _quiet(writer)
    assert await rds.hget(key, f"{F.TRANSACTION}1") == "1"


async def test_on_a_cluster_a_stops_hash_waits_for_its_events(
    cluster_settings: Settings,
    cluster_rds: redis.Redis,
    uid: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The stream's primary is lost while the hash's answers: the stop fails, and its hash
    must not say it ended."""
    keys = Keys.of(cluster_settings)
    writer = StateWriter(cluster_rds, keys)

    def primary(key: str) -> str:
        return str(cluster_rds.get_node_from_key(key).name)

    cp = next(
        cp
        for cp in (f"{uid}-{n}" for n in range(100))
        if primary(keys.charger(cp)) != primary(keys.stream_for(cp))
    )
    stream = keys.stream_for(cp)
    send_to = writer._send_to

    async def stream_primary_lost(client: Any, commands: list[Any]) -> list[Any]:
        if any(command.key == stream for command in commands):
            for command in commands:
                writer._fail(command, redis.ConnectionError("Connection refused"))
            return []
        return await send_to(client, commands)

    monkeypatch.setattr(writer, "_send_to", stream_primary_lost)
    with pytest.raises(redis.ConnectionError):
        await writer.write(cp, {F.ENDED: '["1"]', f"{F.TRANSACTION}1": ""}, [_stop(cp)])
    assert await cluster_rds.hget(keys.charger(cp), F.ENDED) is None


async def test_on_a_cluster_a_write_sent_where_its_slot_no_longer_is_lands_once(
    cluster_settings: Settings, cluster_rds: Any, uid: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slot map read before a slot moved: the lane's primary answers MOVED, and the hash and
    the event go where it says, each stored once."""
    keys = Keys.of(cluster_settings)
    owner = cluster_rds.get_node_from_key(keys.charger(uid))
    [elsewhere, *_] = [n for n in cluster_rds.get_primaries() if n.name != owner.name]
    stale = cluster_rds.client_at(elsewhere.host, elsewhere.port)
    monkeypatch.setattr(cluster_rds, "node_client", lambda _key: stale)
    event = ev.connection(uid, 1.0, online=True, node="n")
    async with _writer(cluster_rds, keys) as writer:
        await writer.write(uid, {"status": "Charging"}, [event])
    assert await cluster_rds.hget(keys.charger(uid), "status") == "Charging"
    stored = [
        fields
        for _, fields in await cluster_rds.xrange(keys.stream_for(uid))
        if ev.decode(fields)["cp"] == uid
    ]
    assert len(stored) == 1


def test_a_rewrite_follows_each_field_to_the_latest_later_write_of_it() -> None:
    """Fields a later plain write set are written again after the rewrite; those whose latest
    later write was fenced are left to it, stored or refused."""
    rewrite = store._Write("cp", {"a": "0", "b": "0", "c": "0"}, [], None)
    rewrite.followed_by({"a": "1", "b": "1"}, fenced=False)
    rewrite.followed_by({"b": "2", "c": "2"}, fenced=True)
    rewrite.followed_by({"c": "3"}, fenced=False)
    assert rewrite.newer == {"a": "1", "c": "3"}
    assert rewrite.fenced_later == {"b"}
