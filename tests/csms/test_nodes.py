"""Connections across nodes: dead peers found by pings, the newest connection of a charger
wins wherever it lands, no command is lost in between, and a node shuts down gracefully."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import pytest
import redis.asyncio as redis
from websockets.asyncio.client import connect

from csms.server import CsmsApp
from shared.bus import Action, Outcome
from shared.redis_keys import F, Keys
from tests.csms.conftest import Command, StartCsms, open_raw, open_upgraded, until


async def test_a_peer_that_stops_answering_pings_is_closed_and_leaves_the_registry(
    start_csms: StartCsms, rds: redis.Redis, keys: Keys, uid: str
) -> None:
    app = await start_csms(node_id=f"ping-{uid}", ping_interval=0.2, ping_timeout=0.2)
    cp = f"MUTE-{uid}"
    # A bare TCP client that completes the upgrade, then never reads nor answers a ping.
    _, writer = await open_upgraded(app.port, f"/ocpp/{cp}")

    async def online() -> str | None:
        value: str | None = await rds.hget(keys.charger(cp), F.ONLINE)
        return value

    await until(lambda: _eq(online(), "1"))
    await until(lambda: _eq(online(), "0"))
    assert cp not in app.node.connections
    writer.close()


async def _eq(value: Awaitable[object], expected: object) -> bool:
    return (await value) == expected


async def test_newest_connection_wins_across_nodes(
    start_csms: StartCsms, rds: redis.Redis, keys: Keys, uid: str
) -> None:
    a = await start_csms(node_id=f"a-{uid}")
    b = await start_csms(node_id=f"b-{uid}")
    cp = f"MOVE-{uid}"
    old = await open_raw(a, cp)
    await old.call("Heartbeat", {})
    new = await open_raw(b, cp)
    await new.call("Heartbeat", {})
    # node a learns over the bus that its connection is stale, and closes it
    await asyncio.wait_for(old.ws.wait_closed(), 5)
    assert old.ws.close_code == 1000
    await until(lambda: _false(cp in a.node.connections))
    state = await rds.hgetall(keys.charger(cp))
    assert state[F.NODE] == b.node.node_id and state[F.ONLINE] == "1"
    # and back again: generations keep counting, so the late close of the old one is harmless
    again = await open_raw(a, cp)
    await again.call("Heartbeat", {})
    await asyncio.wait_for(new.ws.wait_closed(), 5)
    await until(lambda: _false(cp in b.node.connections))
    state = await rds.hgetall(keys.charger(cp))
    assert state[F.NODE] == a.node.node_id and state[F.ONLINE] == "1"
    assert (await again.call("Heartbeat", {}))[0] == 3
    await again.ws.close()


async def _false(value: bool) -> bool:
    return not value


async def test_no_command_is_lost_when_the_charger_moves(
    start_csms: StartCsms, command: Command, uid: str
) -> None:
    a = await start_csms(node_id=f"a2-{uid}")
    b = await start_csms(node_id=f"b2-{uid}")
    cp = f"HOP-{uid}"
    old = await open_raw(a, cp)
    await old.call("Heartbeat", {})
    # the first command goes out on the old connection and is never answered there ...
    sent = asyncio.create_task(command(a.node.node_id, cp, Action.CLEAR_CACHE, timeout=10))
    frame = await asyncio.wait_for(old.recv_call(), 5)
    assert frame[2] == "ClearCache"
    # ... the second waits behind it on node a
    queued = asyncio.create_task(
        command(a.node.node_id, cp, Action.RESET, {"type": "Soft"}, timeout=10)
    )
    await until(lambda: _true(a.node.connections[cp].queued == 1))
    # the charger reconnects to node b (which makes node a close the old connection)
    new = await open_raw(b, cp)
    # the one that was sent gets an error reply; the one that was not goes on to node b
    assert (await sent).outcome is Outcome.EVSE_OFFLINE
    reset = await asyncio.wait_for(new.recv_call(), 5)
    assert reset[2:] == ["Reset", {"type": "Soft"}]
    await new.answer(reset[1], {"status": "Accepted"})
    reply = await queued
    assert reply.outcome is Outcome.ACCEPTED and reply.response == {"status": "Accepted"}
    await new.ws.close()


async def _true(value: bool) -> bool:
    return value


async def test_graceful_shutdown(
    start_csms: StartCsms, command: Command, rds: redis.Redis, keys: Keys, uid: str
) -> None:
    app: CsmsApp = await start_csms(node_id=f"bye-{uid}")
    cp = f"BYE-{uid}"
    c = await open_raw(app, cp, "ocpp2.0.1")
    await c.call("Heartbeat", {})
    running = asyncio.create_task(command(app.node.node_id, cp, Action.CLEAR_CACHE, timeout=30))
    await asyncio.wait_for(c.recv_call(), 5)  # outstanding when the node stops
    port = app.port
    await app.stop()
    # the command ends with an error reply, long before its timeout
    reply = await asyncio.wait_for(running, 10)
    assert reply.outcome is Outcome.EVSE_OFFLINE
    # the charger was told to go away (1001) and is offline in the registry
    await asyncio.wait_for(c.ws.wait_closed(), 5)
    assert c.ws.close_code == 1001
    assert await rds.hget(keys.charger(cp), F.ONLINE) == "0"
    # the node takes no new connections and has left the live node set
    with pytest.raises(OSError):
        await connect(f"ws://127.0.0.1:{port}/ocpp/{cp}", subprotocols=["ocpp2.0.1"])  # type: ignore[list-item]
    assert await rds.zscore(keys.nodes, app.node.node_id) is None


async def test_a_command_answered_while_the_node_stops_keeps_its_outcome(
    start_csms: StartCsms, command: Command, uid: str
) -> None:
    """The charger got the reset and acts on it: its answer, within the drain, is the outcome
    (cut off, a partner would retry a reset the charger already took)."""
    app: CsmsApp = await start_csms(node_id=f"drain-{uid}")
    cp = f"DRAIN-{uid}"
    c = await open_raw(app, cp)
    await c.call("Heartbeat", {})
    running = asyncio.create_task(command(app.node.node_id, cp, Action.RESET, {"type": "Soft"}))
    _, message_id, *_ = await asyncio.wait_for(c.recv_call(), 5)
    stopping = asyncio.create_task(app.stop())
    await until(lambda: _true(app.node.closing))
    await c.answer(message_id, {"status": "Accepted"})
    reply = await asyncio.wait_for(running, 10)
    await stopping
    assert reply.outcome is Outcome.ACCEPTED


async def test_a_command_on_a_connection_that_loses_its_attach_ends_at_once(
    start_csms: StartCsms,
    command: Command,
    rds: redis.Redis,
    keys: Keys,
    uid: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A command can reach a connection whose attach has not answered yet. If a newer
    connection on another node wins meanwhile, the command hears so at once, not at its
    timeout."""
    a: CsmsApp = await start_csms(node_id=f"att-a-{uid}")
    b: CsmsApp = await start_csms(node_id=f"att-b-{uid}")
    cp = f"ATT-{uid}"
    presence, answer = a.node.presence, asyncio.Event()
    script = presence._batch.script

    async def attach_answered_late(run: Any, on: list[str], args: list[Any]) -> Any:
        result = await script(run, on, args)  # the registry names node A now
        if run is presence._attach:
            await answer.wait()
        return result

    monkeypatch.setattr(presence._batch, "script", attach_answered_late)
    old = await open_raw(a, cp)

    async def named_a() -> bool:
        return await rds.hget(keys.charger(cp), F.NODE) == a.node.node_id

    await until(named_a)
    running = asyncio.create_task(command(a.node.node_id, cp, Action.CLEAR_CACHE, timeout=30))
    await asyncio.wait_for(old.recv_call(), 5)  # sent on the connection still attaching
    new = await open_raw(b, cp)
    await new.call("Heartbeat", {})  # B holds the charger, and told A to let go
    answer.set()  # A's attach answers: superseded
    reply = await asyncio.wait_for(running, 10)
    assert reply.outcome is Outcome.EVSE_OFFLINE
    await new.ws.close()
