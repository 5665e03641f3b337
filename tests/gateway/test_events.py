"""GET /events: the partner's own changes live, command results included, and a reconnection
with Last-Event-ID that misses nothing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as redis

from gateway import feed, feed_events, stream_slots
from gateway.stream_slots import StreamSlots
from shared import events as ev
from shared import registry
from shared.bus import CommandReply, CommandRequest, Outcome
from shared.redis_client import BLOCK_MS, SOCKET_TIMEOUT
from shared.redis_keys import F, Keys
from shared.settings import Settings
from tests.gateway.support import (
    Gateway,
    MakeCharger,
    MakeGateway,
    MakePartner,
    Partner,
    SseReader,
    StartNode,
    admin_headers,
    assert_error_body,
    eventually,
    mark_alive,
    online_state,
)


@asynccontextmanager
async def stream(
    gw: Gateway, partner: Partner, last_event_id: str | None = None, **params: str
) -> AsyncIterator[SseReader]:
    headers = dict(partner.headers)
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    resp = await gw.client.get("/api/v1/events", headers=headers, params=params)
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"] == "text/event-stream"
    try:
        yield SseReader(resp)
    finally:
        resp.close()


async def add_status(
    rds: redis.Redis, keys: Keys, settings: Settings, cp: str, status: str, connector: int = 1
) -> str:
    """A status event on the stream, as a csms node appends it."""
    event = {
        "type": ev.STATUS,
        "cp": cp,
        "at": time.time(),
        "connector": connector,
        "ocpp_status": status.title(),
        "status": status,
        "previous": "AVAILABLE",
        "error_code": "NoError",
        "ts": "2026-03-01T10:00:00Z",
    }
    entry_id: str = await rds.xadd(keys.stream_for(cp), ev.encode(event))
    return entry_id


async def test_own_status_session_and_connection_events_only(
    gw: Gateway,
    partner: Partner,
    make_partner: MakePartner,
    charger: MakeCharger,
    rds: redis.Redis,
    keys: Keys,
    settings: Settings,
) -> None:
    mine = await charger(partner)
    theirs = await charger(await make_partner())
    stream_key = keys.stream_for(mine)
    async with stream(gw, partner) as sse:
        await add_status(rds, keys, settings, theirs, "CHARGING")
        entry = await add_status(rds, keys, settings, mine, "CHARGING")
        base = {"cp": mine, "at": time.time()}
        meter = {"type": ev.METER, "connector": 1, "transaction_id": None, "ts": None}
        await rds.xadd(stream_key, ev.encode({**base, **meter, "samples": []}))
        await rds.xadd(
            stream_key,
            ev.encode(
                {
                    **base,
                    "type": ev.TX_START,
                    "connector": 1,
                    "transaction_id": "77",
                    "id_tag": "T1",
                    "meter_start_wh": 100.0,
                    "ts": "2026-03-01T10:00:01Z",
                }
            ),
        )
        await rds.xadd(
            stream_key, ev.encode({**base, "type": ev.CONNECTION, "online": False, "node": "n"})
        )
        status = await sse.next()
        assert sse.retry == 2000
        assert status.event == "status" and status.id == entry
        data = status.json()
        assert data.pop("receivedAt").endswith("Z")
        assert data == {
            "chargerId": mine,
            "connectorId": 1,
            "status": "CHARGING",
            "previousStatus": "AVAILABLE",
            "ocppStatus": "Charging",
            "errorCode": "NoError",
            "timestamp": "2026-03-01T10:00:00Z",
        }
        session = await sse.next()
        assert session.event == "session"
        assert session.json()["state"] == "started"
        assert session.json()["transactionId"] == "77" and session.json()["idTag"] == "T1"
        connection = await sse.next()
        assert connection.event == "connection" and connection.json()["online"] is False
        # nothing of the other partner's charger, and no meter values, came in between
        assert [e.json()["chargerId"] for e in (status, session, connection)] == [mine] * 3


async def test_a_commands_result_arrives_on_events_and_at_its_url(
    gw: Gateway,
    partner: Partner,
    charger: MakeCharger,
    fake_node: StartNode,
    rds: redis.Redis,
    keys: Keys,
    uid: str,
) -> None:
    """With a fake node the node's stream event is written by the test, as csms would."""

    def reply(request: CommandRequest) -> CommandReply:
        return CommandReply(
            id=request.id, outcome=Outcome.REJECTED, response={"status": "Rejected"}
        )

    node = await fake_node(f"n-{uid}", reply)
    await mark_alive(rds, keys, node.node_id, [gw])
    online = await charger(partner, **online_state(node.node_id))
    offline = await charger(partner)
    async with stream(gw, partner, types="command") as sse:
        resp = await gw.client.post(
            f"/api/v1/chargers/{offline}/control?mode=async",
            json={"action": "off"},
            headers=partner.headers,
        )
        offline_command = (await resp.json())["commandId"]
        event = await sse.next()
        assert event.event == "command"
        data = event.json()
        assert data["commandId"] == offline_command and data["chargerId"] == offline
        assert data["state"] == "EVSE_OFFLINE" and data["action"] == "off"

        resp = await gw.client.post(
            f"/api/v1/chargers/{online}/control?mode=async",
            json={"action": "on"},
            headers=partner.headers,
        )
        command_id = (await resp.json())["commandId"]
        # the node answered on the bus; it also appends its `command` event to the stream
        await rds.xadd(
            keys.stream_for(online),
            ev.encode(
                {
                    "type": ev.COMMAND,
                    "cp": online,
                    "at": time.time(),
                    "command_id": command_id,
                    "partner_id": partner.id,
                    "action": "start",
                    "params": {},
                    "ocpp_action": "RemoteStartTransaction",
                    "outcome": "REJECTED",
                    "response": {"status": "Rejected"},
                    "message": None,
                }
            ),
        )
        event = await sse.next()
        assert event.json()["commandId"] == command_id
        assert event.json()["state"] == "REJECTED" and event.json()["action"] == "on"

    async def recorded() -> bool:
        # the gateway records the reply it got on the bus; that may land a moment after the
        # node's own stream event reached the feed
        resp = await gw.client.get(f"/api/v1/commands/{command_id}", headers=partner.headers)
        return bool((await resp.json())["state"] == "REJECTED")

    await eventually(recorded)


async def test_reconnecting_with_last_event_id_misses_nothing(
    gw: Gateway,
    partner: Partner,
    charger: MakeCharger,
    rds: redis.Redis,
    keys: Keys,
    settings: Settings,
) -> None:
    cp = await charger(partner)
    statuses = [
        "AVAILABLE",
        "BLOCKED",
        "CHARGING",
        "BLOCKED",
        "AVAILABLE",
        "RESERVED",
        "INOPERATIVE",
    ]
    received: list[tuple[str | None, str]] = []
    async with stream(gw, partner) as sse:
        for status in statuses[:2]:
            await add_status(rds, keys, settings, cp, status)
        for _ in range(2):
            e = await sse.next()
            received.append((e.id, e.json()["status"]))
    # the client is away while more happens
    missed = [await add_status(rds, keys, settings, cp, s) for s in statuses[2:5]]
    async with stream(gw, partner, last_event_id=received[-1][0]) as sse:
        await add_status(rds, keys, settings, cp, statuses[5])
        for _ in range(4):
            e = await sse.next()
            received.append((e.id, e.json()["status"]))
        await add_status(rds, keys, settings, cp, statuses[6])
        e = await sse.next()
        received.append((e.id, e.json()["status"]))
    assert [status for _, status in received] == statuses
    assert [i for i, _ in received[2:5]] == missed
    ids = [i for i, _ in received]
    assert len(set(ids)) == len(ids)


async def test_a_charger_moved_to_another_partner_replays_none_of_its_former_owners_events(
    gw: Gateway,
    make_partner: MakePartner,
    charger: MakeCharger,
    rds: redis.Redis,
    keys: Keys,
    settings: Settings,
) -> None:
    """As its history does: the new owner's stream starts where the charger became its."""
    former, new = await make_partner(), await make_partner()
    cp = await charger(former)
    await add_status(rds, keys, settings, cp, "CHARGING")  # the former owner's driver
    moved = await gw.client.put(
        f"/api/v1/admin/chargers/{cp}/partner", json={"partnerId": new.id}, headers=admin_headers()
    )
    assert moved.status == 200
    since = await add_status(rds, keys, settings, cp, "AVAILABLE")
    start = ",".join(["0-0"] * settings.stream_shards)  # everything the stream still holds
    async with stream(gw, new, last_event_id=start) as sse:
        first = await sse.next()
    assert (first.id, first.json()["status"]) == (since, "AVAILABLE")


async def test_an_owner_read_overtaken_by_a_move_is_not_kept(
    make_partner: MakePartner,
    charger: MakeCharger,
    rds: redis.Redis,
    keys: Keys,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Redis answered the read before the new owner was written, but the move's announcement
    was handled first: kept, the former owner would get the charger's events for a minute."""
    former, new = await make_partner(), await make_partner()
    cp = await charger(former)
    owners = feed.OwnerCache(rds, keys)
    pipeline = rds.pipeline

    def overtaken(*args: Any, **kwargs: Any) -> Any:
        pipe = pipeline(*args, **kwargs)
        execute = pipe.execute

        async def read_then_moved() -> Any:
            read = await execute()
            await rds.hset(keys.charger(cp), F.OWNER, new.id)
            owners.invalidate(cp)  # the announcement, handled before the read's answer
            return read

        pipe.execute = read_then_moved
        return pipe

    monkeypatch.setattr(rds, "pipeline", overtaken)
    assert (await owners.owners([cp]))[cp][0] == former.id  # right for the events in hand
    monkeypatch.setattr(rds, "pipeline", pipeline)
    assert (await owners.owners([cp]))[cp][0] == new.id


def test_a_chargers_events_from_before_its_owner_had_it_are_nobodys() -> None:
    def event(kind: str, ms: int, partner_id: str | None = None) -> feed_events.FeedEvent:
        return feed_events.FeedEvent(0, (ms, 0), kind, b"{}", "CP", partner_id)

    of = {"CP": ("new", 1_000)}
    assert feed.owner_of(event("status", 999), of) == ""
    assert feed.owner_of(event("status", 1_000), of) == "new"
    assert feed.owner_of(event("status", 5, None), {}) == ""
    assert feed.owner_of(event("command", 5, "p1"), of) == "p1"  # a command is its sender's
    assert feed.owner_of(event("command", 5, None), of) == ""  # an operator's


async def test_a_slow_listener_catches_up_from_the_stream(
    gw: Gateway,
    partner: Partner,
    charger: MakeCharger,
    rds: redis.Redis,
    keys: Keys,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(feed, "QUEUE_LIMIT", 2)
    replays: list[object] = []
    real_replay = feed.EventFeed.replay

    def counting(self: feed.EventFeed, *args: Any) -> Any:
        replays.append(args)
        return real_replay(self, *args)

    monkeypatch.setattr(feed.EventFeed, "replay", counting)
    cp = await charger(partner)
    async with stream(gw, partner) as sse:
        pipe = rds.pipeline(transaction=False)
        for i in range(50):
            pipe.xadd(
                keys.stream_for(cp),
                ev.encode(
                    {
                        "type": ev.STATUS,
                        "cp": cp,
                        "at": time.time(),
                        "connector": i + 1,
                        "ocpp_status": "Available",
                        "status": "AVAILABLE",
                        "previous": "UNKNOWN",
                        "error_code": "NoError",
                        "ts": "2026-03-01T10:00:00Z",
                    }
                ),
            )
        await pipe.execute()  # one batch for the reader: far more than the listener may queue
        connectors = [(await sse.next()).json()["connectorId"] for _ in range(50)]
    assert connectors == list(range(1, 51))
    assert len(replays) >= 2  # the first catch-up, then the one after the overflow


async def test_bad_last_event_id_and_types_are_400(gw: Gateway, partner: Partner) -> None:
    for headers, params in (
        ({"Last-Event-ID": "yesterday"}, {}),
        ({"Last-Event-ID": "1-1,2-2"}, {}),  # one shard here
        ({"Last-Event-ID": "99999999999999999999-0"}, {}),  # past Redis's 64 bits
        ({}, {"types": "status,gossip"}),
    ):
        resp = await gw.client.get(
            "/api/v1/events", headers={**partner.headers, **headers}, params=params
        )
        assert resp.status == 400
        assert_error_body(await resp.json(), 400, "Bad Request", "/api/v1/events")


async def test_a_stream_that_could_not_open_gives_its_slot_back(
    make_gateway: MakeGateway, partner: Partner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis unreachable while the feed starts: 503, and no slot held for a stream never open."""
    gw = await make_gateway(max_streams_per_partner=1)
    tails = feed.EventFeed.tails

    async def unreachable(self: feed.EventFeed) -> Any:
        raise redis.ConnectionError("Connection refused")

    monkeypatch.setattr(feed.EventFeed, "tails", unreachable)
    for _ in range(2):
        resp = await gw.client.get("/api/v1/events", headers=partner.headers)
        assert resp.status == 503
    monkeypatch.setattr(feed.EventFeed, "tails", tails)
    async with stream(gw, partner):
        pass


async def test_a_position_older_than_the_retention_gets_a_gap_event(
    gw: Gateway,
    partner: Partner,
    charger: MakeCharger,
    rds: redis.Redis,
    keys: Keys,
    settings: Settings,
) -> None:
    cp = await charger(partner)
    await add_status(rds, keys, settings, cp, "AVAILABLE")
    async with stream(gw, partner, last_event_id="1000-0") as sse:
        first = await sse.next()
        assert first.event == "gap" and "trimmed" in first.json()["message"]


async def test_revoking_the_partners_key_ends_its_stream(
    gw: Gateway, make_partner: MakePartner, pool: Any
) -> None:
    partner = await make_partner()
    key_id = await pool.fetchval("SELECT id FROM api_keys WHERE partner_id = $1", partner.id)
    async with stream(gw, partner) as sse:
        resp = await gw.client.post(f"/api/v1/admin/keys/{key_id}/revoke", headers=admin_headers())
        assert resp.status == 200
        with pytest.raises(EOFError):
            await sse.next()
    resp = await gw.client.get("/api/v1/events", headers=partner.headers)
    assert resp.status == 401


async def test_a_stream_ends_when_the_key_that_opened_it_expires(
    gw: Gateway, make_partner: MakePartner, pool: Any
) -> None:
    """Expiry is a moment, not an announcement: the stream is timed to end with its key."""
    partner = await make_partner()
    _, key = await registry.issue_api_key(
        pool, partner.id, expires_at=datetime.now(UTC) + timedelta(seconds=1)
    )
    resp = await gw.client.get("/api/v1/events", headers={"x-api-key": key})
    assert resp.status == 200
    try:
        with pytest.raises(EOFError):
            await SseReader(resp).next(timeout=10)
    finally:
        resp.close()
    resp = await gw.client.get("/api/v1/events", headers={"x-api-key": key})
    assert resp.status == 401


def test_positions_parse_and_print() -> None:
    assert feed_events.parse_position("1-2", 1) == [(1, 2)]
    assert feed_events.parse_position("1-2, 3-4", 2) == [(1, 2), (3, 4)]
    assert feed_events.format_position([(1, 2), (3, 4)]) == "1-2,3-4"
    assert feed_events.parse_position(f"{2**64 - 1}-{2**64 - 1}", 1) == [(2**64 - 1,) * 2]
    for bad in ("", "1", "1-", "-1", "a-b", "1-2,3-4", f"{2**64}-0", f"0-{2**64}"):
        assert feed_events.parse_position(bad, 1) is None
    assert feed_events.present({"type": ev.METER, "cp": "A"}) is None


async def test_an_idle_feed_stays_up_through_its_blocking_reads(
    gw: Gateway,
    partner: Partner,
    charger: MakeCharger,
    rds: redis.Redis,
    keys: Keys,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A blocking read longer than the connection's socket timeout ended in a timeout error:
    # the feed logged a traceback and delivered up to a second late, about once a minute.
    assert BLOCK_MS / 1000 < SOCKET_TIMEOUT / 2
    cp = await charger(partner)
    caplog.set_level("WARNING", logger="gateway.feed")
    async with stream(gw, partner) as sse:
        await asyncio.sleep(2.5 * BLOCK_MS / 1000)  # several blocking reads come back empty
        started = time.monotonic()
        await add_status(rds, keys, settings, cp, "CHARGING")
        event = await sse.next()
        assert event.json()["status"] == "CHARGING"
        assert time.monotonic() - started < 1.0
    assert not [r for r in caplog.records if r.name == "gateway.feed"]


async def test_a_partner_holds_at_most_its_streams_across_gateways(
    make_gateway: MakeGateway,
    make_partner: MakePartner,
    charger: MakeCharger,
    rds: redis.Redis,
    keys: Keys,
    settings: Settings,
) -> None:
    first, second = [await make_gateway(max_streams_per_partner=2) for _ in range(2)]
    partner, other = await make_partner(), await make_partner()
    cp = await charger(partner)
    async with stream(first, partner), stream(second, partner) as leaving:
        resp = await second.client.get("/api/v1/events", headers=partner.headers)
        assert resp.status == 429
        assert resp.headers["Retry-After"]
        assert_error_body(await resp.json(), 429, "Too Many Requests", "/api/v1/events")
        async with stream(first, other):
            pass  # the cap is per partner
        leaving.response.close()
        # the gateway notices the closed stream when it next writes to it: then the slot is free
        await add_status(rds, keys, settings, cp, "CHARGING")

        async def reopened() -> bool:
            resp = await first.client.get("/api/v1/events", headers=partner.headers)
            resp.close()
            return resp.status == 200

        await eventually(reopened)


async def test_the_streams_of_a_gateway_that_died_stop_counting(
    rds: redis.Redis, keys: Keys, monkeypatch: pytest.MonkeyPatch, uid: str
) -> None:
    monkeypatch.setattr(stream_slots, "LEASE_SECONDS", 1)
    dead, alive = StreamSlots(rds, keys, 1), StreamSlots(rds, keys, 1)
    partner = f"p{uid}-slots"
    assert await dead.acquire(partner) is not None
    await dead.stop()  # no more renewals, and no release: as if the process were killed
    assert await alive.acquire(partner) is None

    async def lapsed() -> bool:
        return await alive.acquire(partner) is not None

    await eventually(lapsed)
    await alive.stop()
