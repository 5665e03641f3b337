"""Commands over the bus: published to the node's channel, answered on the reply channel."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as redis

from csms.command_runner import Repeats
from csms.server import CsmsApp
from shared import events as ev
from shared.bus import Action, CommandRequest, Outcome
from shared.redis_keys import Keys
from tests.csms.conftest import Connect, until

TS = "2026-01-01T00:00:00Z"


async def _send(rds: redis.Redis, keys: Keys, csms: CsmsApp, request: CommandRequest) -> int:
    return int(await rds.publish(keys.node_channel(csms.node.node_id), request.model_dump_json()))


async def test_start_reaches_the_charger_and_its_answer_comes_back(
    csms: CsmsApp, charger: Connect, rds: redis.Redis, keys: Keys, uid: str, replies
) -> None:  # type: ignore[no-untyped-def]
    channel, queue = replies
    cp = f"CMD-{uid}"
    c = await charger(cp)
    await c.call("Heartbeat", {})
    assert (
        await _send(
            rds,
            keys,
            csms,
            CommandRequest(
                id=f"c1-{uid}",
                reply_to=channel,
                charger_id=cp,
                partner_id="p1",
                action=Action.START,
                params={"connectorId": 1, "idTag": "TAG1"},
            ),
        )
        == 1
    )
    frame = await asyncio.wait_for(c.recv_call(), 5)
    assert frame[2] == "RemoteStartTransaction"
    assert frame[3] == {"connectorId": 1, "idTag": "TAG1"}
    await c.answer(frame[1], {"status": "Accepted"})
    reply = await asyncio.wait_for(queue.get(), 5)
    assert reply.id == f"c1-{uid}" and reply.outcome is Outcome.ACCEPTED
    assert reply.response == {"status": "Accepted"}

    async def recorded() -> list[ev.Event]:
        entries = [ev.decode(f) for _, f in await rds.xrange(keys.stream(0))]
        return [e for e in entries if e["type"] == "command" and e["command_id"] == f"c1-{uid}"]

    await until(recorded)  # the outcome is recorded after the reply is sent
    [event] = await recorded()
    assert event["outcome"] == "ACCEPTED" and event["partner_id"] == "p1"


async def test_stop_uses_the_running_transaction(
    csms: CsmsApp, charger: Connect, rds: redis.Redis, keys: Keys, uid: str, replies
) -> None:  # type: ignore[no-untyped-def]
    channel, queue = replies
    cp = f"STOP-{uid}"
    c = await charger(cp)
    started = await c.call(
        "StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": TS}
    )
    await _send(
        rds,
        keys,
        csms,
        CommandRequest(id=f"s-{uid}", reply_to=channel, charger_id=cp, action=Action.STOP),
    )
    frame = await asyncio.wait_for(c.recv_call(), 5)
    assert frame[2:] == ["RemoteStopTransaction", {"transactionId": started[2]["transactionId"]}]
    await c.answer(frame[1], {"status": "Rejected"})
    assert (await asyncio.wait_for(queue.get(), 5)).outcome is Outcome.REJECTED


async def test_stop_without_a_transaction_is_refused_without_bothering_the_charger(
    csms: CsmsApp, charger: Connect, rds: redis.Redis, keys: Keys, uid: str, replies
) -> None:  # type: ignore[no-untyped-def]
    channel, queue = replies
    cp = f"IDLE-{uid}"
    c = await charger(cp)
    await c.call("Heartbeat", {})
    await _send(
        rds,
        keys,
        csms,
        CommandRequest(id=f"i-{uid}", reply_to=channel, charger_id=cp, action=Action.STOP),
    )
    assert (await asyncio.wait_for(queue.get(), 5)).outcome is Outcome.NOT_SUPPORTED


async def test_silent_charger_times_out_and_commands_queue_one_at_a_time(
    csms: CsmsApp, charger: Connect, rds: redis.Redis, keys: Keys, uid: str, replies
) -> None:  # type: ignore[no-untyped-def]
    channel, queue = replies
    cp = f"SLOW-{uid}"
    c = await charger(cp, "ocpp2.0.1")
    await c.call("Heartbeat", {})
    for n in (1, 2):
        await _send(
            rds,
            keys,
            csms,
            CommandRequest(
                id=f"t{n}-{uid}",
                reply_to=channel,
                charger_id=cp,
                action=Action.AVAILABILITY,
                params={"operative": False},
                timeout=0.5,
            ),
        )
    first = await asyncio.wait_for(c.recv_call(), 5)
    assert first[2:] == ["ChangeAvailability", {"operationalStatus": "Inoperative"}]
    # the second CALL is not sent while the first is outstanding
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(c.recv_call(), 0.3)
    outcomes = {(r := await asyncio.wait_for(queue.get(), 5)).id: r.outcome for _ in range(2)}
    assert outcomes == {f"t1-{uid}": Outcome.TIMEOUT, f"t2-{uid}": Outcome.TIMEOUT}


async def test_a_command_delivered_twice_reaches_the_charger_once(
    csms: CsmsApp, charger: Connect, rds: redis.Redis, keys: Keys, uid: str, replies
) -> None:  # type: ignore[no-untyped-def]
    """A cluster client's retry may publish a command again: one remote start, not two."""
    channel, queue = replies
    cp = f"TWICE-{uid}"
    c = await charger(cp)
    await c.call("Heartbeat", {})

    def start(command_id: str) -> CommandRequest:
        return CommandRequest(
            id=command_id, reply_to=channel, charger_id=cp, action=Action.START,
            params={"connectorId": 1, "idTag": "TAG1"},
        )  # fmt: skip

    for request in (start(f"a-{uid}"), start(f"a-{uid}"), start(f"b-{uid}")):
        await _send(rds, keys, csms, request)
    for _ in range(2):
        frame = await asyncio.wait_for(c.recv_call(), 5)
        assert frame[2] == "RemoteStartTransaction"
        await c.answer(frame[1], {"status": "Accepted"})
    replies_got = {(await asyncio.wait_for(queue.get(), 5)).id for _ in range(2)}
    assert replies_got == {f"a-{uid}", f"b-{uid}"}
    # a repeat's CALL would have been queued long before this one
    later = CommandRequest(
        id=f"c-{uid}", reply_to=channel, charger_id=cp, action=Action.AVAILABILITY,
        params={"operative": False},
    )  # fmt: skip
    await _send(rds, keys, csms, later)
    frame = await asyncio.wait_for(c.recv_call(), 5)
    assert frame[2] == "ChangeAvailability"


def test_repeats_are_known_within_their_window_only() -> None:
    repeats = Repeats(10.0)
    assert not repeats.again(("c1", 0), 100.0)
    assert repeats.again(("c1", 0), 109.9)
    assert not repeats.again(("c1", 1), 109.9)  # handed on: another delivery
    assert not repeats.again(("c1", 0), 110.0)  # the first sighting has expired


async def test_command_for_a_charger_not_here_says_offline(
    csms: CsmsApp, rds: redis.Redis, keys: Keys, uid: str, replies
) -> None:  # type: ignore[no-untyped-def]
    channel, queue = replies
    await _send(
        rds,
        keys,
        csms,
        CommandRequest(
            id=f"o-{uid}", reply_to=channel, charger_id=f"GONE-{uid}", action=Action.START
        ),
    )
    assert (await asyncio.wait_for(queue.get(), 5)).outcome is Outcome.EVSE_OFFLINE
