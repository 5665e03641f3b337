"""Idempotency-Key: a repeated command is sent to the charger once, however the repeats come."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio as redis
from prometheus_client import REGISTRY

from gateway import command_log, idempotency
from gateway.commands import REPLY_MARGIN
from shared.bus import CommandReply, CommandRequest, Outcome
from shared.redis_keys import Keys
from tests.gateway.support import (
    Gateway,
    MakeCharger,
    MakeGateway,
    Partner,
    StartNode,
    assert_error_body,
    eventually,
    mark_alive,
    online_state,
)


def accept(request: CommandRequest) -> CommandReply:
    return CommandReply(
        id=request.id,
        outcome=Outcome.ACCEPTED,
        ocpp_action="RemoteStartTransaction",
        response={"status": "Accepted"},
    )


async def _setup(
    gw: Gateway, partner: Partner, charger: MakeCharger, rds: redis.Redis, keys: Keys, node: str
) -> str:
    await mark_alive(rds, keys, node, [gw])
    return await charger(partner, **online_state(node))


def _headers(partner: Partner, key: str) -> dict[str, str]:
    return {**partner.headers, "Idempotency-Key": key}


async def test_a_repeat_replays_the_first_answer_without_sending_again(
    gw: Gateway,
    partner: Partner,
    charger: MakeCharger,
    fake_node: StartNode,
    rds: redis.Redis,
    keys: Keys,
    uid: str,
) -> None:
    node = await fake_node(f"n-{uid}", accept)
    cp = await _setup(gw, partner, charger, rds, keys, node.node_id)
    path = f"/api/v1/chargers/{cp}/control"
    first = await gw.client.post(path, json={"action": "on"}, headers=_headers(partner, "k-1"))
    assert first.status == 200 and "Idempotent-Replayed" not in first.headers
    # the same body in another key order and spacing is the same request
    again = await gw.client.post(
        path,
        data=b'{ "action" :"on" }',
        headers={**_headers(partner, "k-1"), "Content-Type": "application/json"},
    )
    assert again.status == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await again.json() == await first.json()
    assert len(node.received) == 1

    # another key is another request
    other = await gw.client.post(path, json={"action": "on"}, headers=_headers(partner, "k-2"))
    assert other.status == 200 and len(node.received) == 2


def _outcomes_timed() -> float:
    sample = "evcs_gateway_command_stage_seconds_count"
    return REGISTRY.get_sample_value(sample, {"stage": "outcome"}) or 0.0


async def test_a_command_whose_outcome_could_not_be_recorded_is_answered_and_kept(
    gw: Gateway,
    partner: Partner,
    charger: MakeCharger,
    fake_node: StartNode,
    rds: redis.Redis,
    keys: Keys,
    uid: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PostgreSQL failed after the charger answered: an error would free the key for a retry
    that sends the command again (a second hard reset)."""
    node = await fake_node(f"n-{uid}", accept)
    cp = await _setup(gw, partner, charger, rds, keys, node.node_id)

    async def postgres_gone(*args: Any) -> None:
        raise ConnectionRefusedError("PostgreSQL is down")

    monkeypatch.setattr(command_log, "record_outcomes", postgres_gone)
    path = f"/api/v1/chargers/{cp}/control"
    timed = _outcomes_timed()
    first = await gw.client.post(path, json={"action": "on"}, headers=_headers(partner, "k-pg"))
    assert first.status == 200 and (await first.json())["outcome"] == "ACCEPTED"
    assert _outcomes_timed() == timed + 1  # the failed record's time shows on the dashboard
    monkeypatch.undo()
    again = await gw.client.post(path, json={"action": "on"}, headers=_headers(partner, "k-pg"))
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(node.received) == 1


async def test_same_key_with_another_body_is_422_and_sends_nothing(
    gw: Gateway,
    partner: Partner,
    charger: MakeCharger,
    fake_node: StartNode,
    rds: redis.Redis,
    keys: Keys,
    uid: str,
) -> None:
    node = await fake_node(f"n-{uid}", accept)
    cp = await _setup(gw, partner, charger, rds, keys, node.node_id)
    path = f"/api/v1/chargers/{cp}/control"
    await gw.client.post(path, json={"action": "on"}, headers=_headers(partner, "k"))
    for body, where in (
        ({"action": "off"}, path),
        ({"action": "on", "connectorId": 2}, path),
        ({"status": "INOPERATIVE"}, f"/api/v1/chargers/{cp}/status"),  # another endpoint
    ):
        resp = await gw.client.request(
            "PUT" if "status" in body else "POST", where, json=body, headers=_headers(partner, "k")
        )
        assert resp.status == 422, body
        assert_error_body(await resp.json(), 422, "Unprocessable Entity", where)
    # synchronous then asynchronous is another request too
    resp = await gw.client.post(
        path, params={"mode": "async"}, json={"action": "on"}, headers=_headers(partner, "k")
    )
    assert resp.status == 422
    assert len(node.received) == 1


async def test_same_key_while_the_first_runs_is_409_then_replays(
    gw: Gateway,
    partner: Partner,
    charger: MakeCharger,
    fake_node: StartNode,
    rds: redis.Redis,
    keys: Keys,
    uid: str,
) -> None:
    node = await fake_node(f"n-{uid}", lambda request: None)  # answers when the test says
    cp = await _setup(gw, partner, charger, rds, keys, node.node_id)
    path = f"/api/v1/chargers/{cp}/control"
    first = asyncio.create_task(
        gw.client.post(path, json={"action": "on"}, headers=_headers(partner, "slow"))
    )

    async def sent() -> bool:
        return len(node.received) == 1

    await eventually(sent)
    resp = await gw.client.post(path, json={"action": "on"}, headers=_headers(partner, "slow"))
    assert resp.status == 409
    assert resp.headers["Retry-After"] == "1"
    assert_error_body(await resp.json(), 409, "Conflict", path)

    await rds.publish(node.received[0].reply_to, accept(node.received[0]).model_dump_json())
    assert (await first).status == 200
    resp = await gw.client.post(path, json={"action": "on"}, headers=_headers(partner, "slow"))
    assert resp.status == 200 and resp.headers["Idempotent-Replayed"] == "true"
    assert len(node.received) == 1


async def test_a_long_synchronous_batch_holds_its_key_until_it_is_done(
    make_gateway: MakeGateway,
    partner: Partner,
    charger: MakeCharger,
    fake_node: StartNode,
    rds: redis.Redis,
    keys: Keys,
    uid: str,
) -> None:
    """450 silent chargers take three rounds of 200 sends, each up to a charger's deadline
    (3 s here): longer than one command's. A repeat before the end is 409, never a rerun."""
    gw = await make_gateway(command_timeout=1.0)
    node = await fake_node(f"silent-{uid}", lambda request: None)
    await mark_alive(rds, keys, node.node_id, [gw])
    ids = [await charger(partner, **online_state(node.node_id)) for _ in range(450)]
    path, body = "/api/v1/chargers/batch/control", {"ids": ids, "action": "on"}
    headers = _headers(partner, f"k-{uid}")
    first = asyncio.create_task(gw.client.post(path, json=body, headers=headers))
    key = keys.idempotency(partner.id, f"k-{uid}")

    async def reserved() -> bool:
        return bool(await rds.exists(key))

    await eventually(reserved)
    assert await rds.ttl(key) >= 3 * (1.0 + REPLY_MARGIN)  # held while all three rounds run
    repeat = await gw.client.post(path, json=body, headers=headers)
    assert repeat.status == 409
    assert (await first).status == 200
    assert sorted(r.charger_id for r in node.received) == sorted(ids)  # each once


async def test_concurrent_repeats_on_two_gateways_send_one_command(
    make_gateway: MakeGateway,
    partner: Partner,
    charger: MakeCharger,
    fake_node: StartNode,
    rds: redis.Redis,
    keys: Keys,
    uid: str,
) -> None:
    one, two = await make_gateway(), await make_gateway(share=False)
    node = await fake_node(f"n-{uid}", accept)
    await mark_alive(rds, keys, node.node_id, [one, two])
    cp = await charger(partner, **online_state(node.node_id))
    path = f"/api/v1/chargers/{cp}/control"
    answers = await asyncio.gather(
        *(
            g.client.post(path, json={"action": "on"}, headers=_headers(partner, "race"))
            for g in (one, two) * 10
        )
    )
    statuses = sorted(a.status for a in answers)
    assert len(node.received) == 1
    assert set(statuses) <= {200, 409}
    assert statuses.count(200) >= 1
    # once it is done, every repeat replays the one outcome
    ids = set()
    for g in (one, two):
        resp = await g.client.post(path, json={"action": "on"}, headers=_headers(partner, "race"))
        assert resp.status == 200
        ids.add((await resp.json())["commandId"])
    assert ids == {node.received[0].id}


async def test_outcomes_that_sent_nothing_are_not_kept(
    gw: Gateway, partner: Partner, charger: MakeCharger, rds: redis.Redis, keys: Keys, uid: str
) -> None:
    # a node that is alive but has no subscriber: 503, nothing was delivered, so a retry runs
    cp = await _setup(gw, partner, charger, rds, keys, f"ghost-{uid}")
    path = f"/api/v1/chargers/{cp}/control"
    for _ in range(2):
        resp = await gw.client.post(path, json={"action": "on"}, headers=_headers(partner, "g"))
        assert resp.status == 503
        assert "Idempotent-Replayed" not in resp.headers
    assert await rds.get(keys.idempotency(partner.id, "g")) is None


async def test_keys_are_per_partner_and_must_be_sane(
    gw: Gateway,
    partner: Partner,
    make_partner: Any,
    charger: MakeCharger,
    fake_node: StartNode,
    rds: redis.Redis,
    keys: Keys,
    uid: str,
) -> None:
    node = await fake_node(f"n-{uid}", accept)
    await mark_alive(rds, keys, node.node_id, [gw])
    other = await make_partner()
    mine = await charger(partner, **online_state(node.node_id))
    theirs = await charger(other, **online_state(node.node_id))
    for who, cp in ((partner, mine), (other, theirs)):
        resp = await gw.client.post(
            f"/api/v1/chargers/{cp}/control", json={"action": "on"}, headers=_headers(who, "same")
        )
        assert resp.status == 200 and "Idempotent-Replayed" not in resp.headers
    assert len(node.received) == 2
    path = f"/api/v1/chargers/{mine}/control"
    for bad in ("x" * 256, "has space", "tab\there"):
        resp = await gw.client.post(path, json={"action": "on"}, headers=_headers(partner, bad))
        assert resp.status == 400, bad
        assert_error_body(await resp.json(), 400, "Bad Request", path)
    assert len(node.received) == 2


def test_judging_a_stored_key() -> None:
    running = idempotency.Stored("f1", done=False)
    done = idempotency.Stored("f1", True, 200, "{}", {})
    assert idempotency.judge(running, "f1") is idempotency.Verdict.RUNNING
    assert idempotency.judge(done, "f1") is idempotency.Verdict.REPLAY
    assert idempotency.judge(done, "f2") is idempotency.Verdict.MISMATCH
    assert idempotency.decode(done.encode()) == done
    assert idempotency.decode(b"not json") is None
    assert idempotency.fingerprint("ab", "c") != idempotency.fingerprint("a", "bc")
