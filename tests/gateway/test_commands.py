"""Commands over the real bus: a scripted csms node (and once a real one) answers on Redis."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio as redis
from prometheus_client import REGISTRY

from csms.node import Node
from gateway.state import BUS
from shared.bus import Action, CommandReply, CommandRequest, Outcome
from shared.redis_keys import F, Keys
from shared.settings import Settings
from tests.gateway.support import (
    Gateway,
    MakeCharger,
    MakeGateway,
    MakePartner,
    Partner,
    StartNode,
    admin_headers,
    assert_error_body,
    mark_alive,
    online_state,
)


def answer(outcome: Outcome, **fields: Any) -> Any:
    def script(request: CommandRequest) -> CommandReply:
        return CommandReply(id=request.id, outcome=outcome, **fields)

    return script


async def _online_charger(
    gw: Gateway, partner: Partner, charger: MakeCharger, rds: redis.Redis, keys: Keys, node: str
) -> str:
    await mark_alive(rds, keys, node, [gw])
    return await charger(partner, **online_state(node))


def _stages_timed() -> list[float]:
    """How many commands the gateway has timed in each stage (this process's metrics)."""
    return [
        REGISTRY.get_sample_value("evcs_gateway_command_stage_seconds_count", {"stage": stage})
        or 0.0
        for stage in ("record", "send", "outcome")
    ]


async def test_on_is_accepted_with_the_chargers_answer(
    gw: Gateway,
    partner: Partner,
    charger: MakeCharger,
    fake_node: StartNode,
    rds: redis.Redis,
    keys: Keys,
    settings: Settings,
    uid: str,
) -> None:
    node = await fake_node(
        f"n1-{uid}",
        answer(
            Outcome.ACCEPTED,
            ocpp_action="RemoteStartTransaction",
            response={"status": "Accepted"},
        ),
    )
    cp = await _online_charger(gw, partner, charger, rds, keys, node.node_id)
    timed = _stages_timed()
    resp = await gw.client.post(
        f"/api/v1/chargers/{cp}/control",
        json={"action": "on", "connectorId": 1, "idTag": "TAG-1"},
        headers=partner.headers,
    )
    assert resp.status == 200
    # each of its stages timed once, for an operator's dashboard
    assert _stages_timed() == [n + 1 for n in timed]
    body = await resp.json()
    [request] = node.received
    assert body == {
        "commandId": request.id,
        "chargerId": cp,
        "action": "on",
        "status": "Accepted",
        "outcome": "ACCEPTED",
        "ocppAction": "RemoteStartTransaction",
        "chargerResponse": {"status": "Accepted"},
    }
    assert request.charger_id == cp and request.partner_id == partner.id
    assert request.action is Action.START
    assert request.params == {"connectorId": 1, "idTag": "TAG-1"}
    assert request.timeout == settings.command_timeout
    assert request.reply_to.startswith(f"{keys.prefix}:gw:")


async def test_off_without_options_sends_no_params_and_may_be_rejected(
    gw: Gateway,
    partner: Partner,
    charger: MakeCharger,
    fake_node: StartNode,
    rds: redis.Redis,
    keys: Keys,
    uid: str,
) -> None:
    node = await fake_node(
        f"n1-{uid}",
        answer(
            Outcome.REJECTED,
            ocpp_action="RemoteStopTransaction",
            response={"status": "Rejected"},
        ),
    )
    cp = await _online_charger(gw, partner, charger, rds, keys, node.node_id)
    resp = await gw.client.post(
        f"/api/v1/chargers/{cp}/control", json={"action": "off"}, headers=partner.headers
    )
    assert resp.status == 200
    body = await resp.json()
    assert body["status"] == "Rejected" and body["chargerResponse"] == {"status": "Rejected"}
    assert node.received[0].action is Action.STOP and node.received[0].params == {}


@pytest.mark.parametrize(
    ("reply", "status", "in_message"),
    [
        (
            answer(Outcome.EVSE_OFFLINE, message="the charger is not connected"),
            409,
            "not connected",
        ),
        (answer(Outcome.NOT_SUPPORTED, message="no transaction is running"), 409, "no transaction"),
        (answer(Outcome.TIMEOUT, ocpp_action="RemoteStopTransaction"), 504, "in time"),
        (
            answer(
                Outcome.FAILED,
                ocpp_action="RemoteStopTransaction",
                response={"errorCode": "InternalError", "description": "boom"},
            ),
            502,
            "InternalError: boom",
        ),
    ],
    ids=["evse-offline", "not-supported", "charger-timeout", "callerror"],
)
async def test_node_outcomes_map_to_http(
    gw: Gateway,
    partner: Partner,
    charger: MakeCharger,
    fake_node: StartNode,
    rds: redis.Redis,
    keys: Keys,
    uid: str,
    reply: Any,
    status: int,
    in_message: str,
) -> None:
    node = await fake_node(f"n1-{uid}", reply)
    cp = await _online_charger(gw, partner, charger, rds, keys, node.node_id)
    path = f"/api/v1/chargers/{cp}/control"
    resp = await gw.client.post(path, json={"action": "off"}, headers=partner.headers)
    assert resp.status == status
    body = await resp.json()
    assert_error_body(body, status, body["error"], path)
    assert in_message in body["message"]
    assert body["commandId"] == node.received[0].id


async def test_offline_charger_gets_409_without_bothering_the_node(
    gw: Gateway,
    partner: Partner,
    charger: MakeCharger,
    fake_node: StartNode,
    rds: redis.Redis,
    keys: Keys,
    uid: str,
) -> None:
    node = await fake_node(f"n1-{uid}", answer(Outcome.ACCEPTED))
    await mark_alive(rds, keys, node.node_id, [gw])
    disconnected = await charger(partner, **{**online_state(node.node_id), F.ONLINE: "0"})
    never_seen = await charger(partner)
    on_dead_node = await charger(partner, **online_state(f"dead-{uid}"))
    for cp in (disconnected, never_seen, on_dead_node):
        path = f"/api/v1/chargers/{cp}/control"
        resp = await gw.client.post(path, json={"action": "on"}, headers=partner.headers)
        assert resp.status == 409
        assert_error_body(await resp.json(), 409, "Conflict", path)
    assert node.received == []


async def test_node_that_never_answers_gives_504(
    make_gateway: MakeGateway,
    partner: Partner,
    charger: MakeCharger,
    fake_node: StartNode,
    rds: redis.Redis,
    keys: Keys,
    uid: str,
) -> None:
    gw = await make_gateway(command_timeout=0.1)
    node = await fake_node(f"n1-{uid}", lambda request: None)
    cp = await _online_charger(gw, partner, charger, rds, keys, node.node_id)
    loop = asyncio.get_running_loop()
    started = loop.time()
    resp = await gw.client.post(
        f"/api/v1/chargers/{cp}/control", json={"action": "on"}, headers=partner.headers
    )
    assert resp.status == 504
    assert 2.0 <= loop.time() - started < 4.0  # the charger's timeout plus the node's margin
    assert node.received[0].timeout == 0.1


async def test_alive_node_without_a_subscriber_gives_503(
    gw: Gateway, partner: Partner, charger: MakeCharger, rds: redis.Redis, keys: Keys, uid: str
) -> None:
    cp = await _online_charger(gw, partner, charger, rds, keys, f"ghost-{uid}")
    path = f"/api/v1/chargers/{cp}/control"
    resp = await gw.client.post(path, json={"action": "on"}, headers=partner.headers)
    assert resp.status == 503
    assert_error_body(await resp.json(), 503, "Service Unavailable", path)


async def test_commands_on_other_partners_chargers_are_404(
    gw: Gateway,
    partner: Partner,
    make_partner: MakePartner,
    charger: MakeCharger,
    fake_node: StartNode,
    rds: redis.Redis,
    keys: Keys,
    uid: str,
) -> None:
    node = await fake_node(f"n1-{uid}", answer(Outcome.ACCEPTED))
    await mark_alive(rds, keys, node.node_id, [gw])
    theirs = await charger(await make_partner(), **online_state(node.node_id))
    for method, suffix, body in (
        ("POST", "control", {"action": "on"}),
        ("PUT", "status", {"status": "INOPERATIVE"}),
    ):
        resp = await gw.client.request(
            method, f"/api/v1/chargers/{theirs}/{suffix}", json=body, headers=partner.headers
        )
        assert resp.status == 404
        assert (await resp.json())["message"] == "charger not found"
    assert node.received == []


async def test_put_status_becomes_change_availability(
    gw: Gateway,
    partner: Partner,
    charger: MakeCharger,
    fake_node: StartNode,
    rds: redis.Redis,
    keys: Keys,
    uid: str,
) -> None:
    node = await fake_node(
        f"n1-{uid}",
        answer(Outcome.ACCEPTED, ocpp_action="ChangeAvailability", response={"status": "Accepted"}),
    )
    cp = await _online_charger(gw, partner, charger, rds, keys, node.node_id)
    path = f"/api/v1/chargers/{cp}/status"
    resp = await gw.client.put(path, json={"status": "INOPERATIVE"}, headers=partner.headers)
    assert resp.status == 200
    assert (await resp.json())["action"] == "availability"
    resp = await gw.client.put(
        path, json={"status": "AVAILABLE", "connectorId": 2}, headers=partner.headers
    )
    assert resp.status == 200
    assert [(r.action, r.params) for r in node.received] == [
        (Action.AVAILABILITY, {"operative": False}),
        (Action.AVAILABILITY, {"operative": True, "connectorId": 2}),
    ]
    bad: Any
    for bad in ({"status": "CHARGING"}, {"status": "available"}, {"status": None}, {}, []):
        resp = await gw.client.put(path, json=bad, headers=partner.headers)
        assert resp.status == 400, bad
        assert_error_body(await resp.json(), 400, "Bad Request", path)
    assert len(node.received) == 2


async def test_a_real_csms_node_answers_offline_for_a_charger_it_does_not_hold(
    gw: Gateway,
    partner: Partner,
    charger: MakeCharger,
    settings: Settings,
    rds: redis.Redis,
    keys: Keys,
    uid: str,
) -> None:
    """The contract with csms/node.py: its envelope parsing and reply publishing, for real."""
    node = Node(settings.model_copy(update={"node_id": f"real-{uid}"}), rds)
    listener = node.commands.channel()
    await listener.start()
    try:
        # the registry says the charger is on this node, but the node holds no connection
        cp = await _online_charger(gw, partner, charger, rds, keys, node.node_id)
        resp = await gw.client.post(
            f"/api/v1/chargers/{cp}/control", json={"action": "on"}, headers=partner.headers
        )
        assert resp.status == 409
        assert (await resp.json())["outcome"] == "EVSE_OFFLINE"
    finally:
        await listener.stop()
        await node.shutdown()


async def test_a_decommissioned_charger_takes_no_more_commands(
    gw: Gateway,
    partner: Partner,
    charger: MakeCharger,
    fake_node: StartNode,
    rds: redis.Redis,
    keys: Keys,
    uid: str,
) -> None:
    """Its connection may stay open until it drops; the partner can read its REMOVED status,
    but neither a command nor a batch reaches it."""
    node = await fake_node(f"n-{uid}", answer(Outcome.ACCEPTED, response={"status": "Accepted"}))
    cp = await _online_charger(gw, partner, charger, rds, keys, node.node_id)
    gone = await gw.client.delete(f"/api/v1/admin/chargers/{cp}", headers=admin_headers())
    assert gone.status < 300
    path = f"/api/v1/chargers/{cp}/reset"
    reset = await gw.client.post(path, json={"type": "Hard"}, headers=partner.headers)
    assert reset.status == 404
    assert_error_body(await reset.json(), 404, "Not Found", path)
    batch = await gw.client.post(
        "/api/v1/chargers/batch/control",
        json={"ids": [cp], "action": "on"},
        headers=partner.headers,
    )
    assert [r["state"] for r in (await batch.json())["results"]] == ["NOT_FOUND"]
    assert node.received == []


def _publish_then_lose_the_answer(gw: Gateway, monkeypatch: pytest.MonkeyPatch, sent: bool) -> None:
    """The connection to Redis dies with the command's publish in flight, delivered or not."""
    path = gw.app[BUS]._path
    post = path.post

    async def lost(channel: str, message: str | bytes) -> int:
        if sent:
            await post(channel, message)
        raise redis.ConnectionError("Connection closed by server.")

    monkeypatch.setattr(path, "post", lost)


async def test_a_command_whose_publish_lost_its_answer_still_gets_the_nodes_reply(
    gw: Gateway,
    partner: Partner,
    charger: MakeCharger,
    fake_node: StartNode,
    rds: redis.Redis,
    keys: Keys,
    uid: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    node = await fake_node(f"n1-{uid}", answer(Outcome.ACCEPTED, response={"status": "Accepted"}))
    cp = await _online_charger(gw, partner, charger, rds, keys, node.node_id)
    _publish_then_lose_the_answer(gw, monkeypatch, sent=True)
    resp = await gw.client.post(
        f"/api/v1/chargers/{cp}/control", json={"action": "on"}, headers=partner.headers
    )
    assert resp.status == 200 and (await resp.json())["outcome"] == "ACCEPTED"


async def test_a_command_whose_publish_may_not_have_gone_is_a_timeout_not_a_retry(
    make_gateway: MakeGateway,
    partner: Partner,
    charger: MakeCharger,
    fake_node: StartNode,
    rds: redis.Redis,
    keys: Keys,
    uid: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """503 tells a partner to retry, and its Idempotency-Key would not hold a retry back: a
    command that may have reached its node must not be sent again that way."""
    gw = await make_gateway(command_timeout=0.1)
    node = await fake_node(f"n1-{uid}", lambda request: None)
    cp = await _online_charger(gw, partner, charger, rds, keys, node.node_id)
    _publish_then_lose_the_answer(gw, monkeypatch, sent=False)
    headers = {**partner.headers, "Idempotency-Key": f"k-{uid}"}
    path = f"/api/v1/chargers/{cp}/control"
    first = await gw.client.post(path, json={"action": "on"}, headers=headers)
    assert first.status == 504 and (await first.json())["outcome"] == "TIMEOUT"
    monkeypatch.undo()
    again = await gw.client.post(path, json={"action": "on"}, headers=headers)
    assert again.status == 504 and again.headers["Idempotent-Replayed"] == "true"
    assert node.received == []  # nothing went out, and the retry sent nothing either
