"""Asynchronous commands: 202 and a command id at once, the outcome at /commands/{id} later."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import redis.asyncio as redis

from gateway.command_log import state_of
from shared.bus import CommandReply, CommandRequest, Outcome
from shared.ids import new_id
from shared.redis_keys import Keys
from tests.gateway.support import (
    Gateway,
    MakeCharger,
    MakePartner,
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


async def _command(gw: Gateway, partner: Partner, command_id: str) -> tuple[int, Any]:
    resp = await gw.client.get(f"/api/v1/commands/{command_id}", headers=partner.headers)
    return resp.status, await resp.json()


async def test_mode_async_answers_202_then_the_outcome_is_at_its_url(
    gw: Gateway,
    partner: Partner,
    charger: MakeCharger,
    fake_node: StartNode,
    rds: redis.Redis,
    keys: Keys,
    uid: str,
) -> None:
    node = await fake_node(f"n-{uid}", lambda request: None)  # answers when the test says
    await mark_alive(rds, keys, node.node_id, [gw])
    cp = await charger(partner, **online_state(node.node_id))
    resp = await gw.client.post(
        f"/api/v1/chargers/{cp}/control",
        params={"mode": "async"},
        json={"action": "on", "idTag": "T1"},
        headers=partner.headers,
    )
    assert resp.status == 202
    body = await resp.json()
    command_id = body["commandId"]
    assert body == {
        "commandId": command_id,
        "chargerId": cp,
        "action": "on",
        "state": "PENDING",
        "location": f"/api/v1/commands/{command_id}",
    }
    assert resp.headers["Location"] == body["location"]
    assert resp.headers["Preference-Applied"] == "respond-async"

    async def sent() -> bool:
        return len(node.received) == 1

    await eventually(sent)
    assert node.received[0].id == command_id
    status, pending = await _command(gw, partner, command_id)
    assert status == 200 and pending["state"] == "PENDING" and pending["completedAt"] is None

    await rds.publish(node.received[0].reply_to, accept(node.received[0]).model_dump_json())

    async def done() -> bool:
        return (await _command(gw, partner, command_id))[1]["state"] != "PENDING"

    await eventually(done)
    status, final = await _command(gw, partner, command_id)
    assert final["state"] == "ACCEPTED"
    assert final["mode"] == "async" and final["action"] == "on" and final["chargerId"] == cp
    assert final["ocppAction"] == "RemoteStartTransaction"
    assert final["chargerResponse"] == {"status": "Accepted"}
    assert final["completedAt"].endswith("Z")


async def test_prefer_respond_async_and_an_offline_charger(
    gw: Gateway, partner: Partner, charger: MakeCharger
) -> None:
    cp = await charger(partner)  # never connected
    for path, body in (
        (f"/api/v1/chargers/{cp}/control", {"action": "off"}),
        (f"/api/v1/chargers/{cp}/status", {"status": "INOPERATIVE"}),
    ):
        resp = await gw.client.request(
            "POST" if path.endswith("control") else "PUT",
            path,
            json=body,
            headers={**partner.headers, "Prefer": "wait=5, respond-async"},
        )
        assert resp.status == 202
        command_id = (await resp.json())["commandId"]

        async def settled(command_id: str = command_id) -> bool:
            return (await _command(gw, partner, command_id))[1]["state"] == "EVSE_OFFLINE"

        await eventually(settled)
        _, final = await _command(gw, partner, command_id)
        assert final["message"] == "the charger is not connected"
    # an explicit ?mode=sync wins over the preference
    resp = await gw.client.post(
        f"/api/v1/chargers/{cp}/control",
        params={"mode": "sync"},
        json={"action": "on"},
        headers={**partner.headers, "Prefer": "respond-async"},
    )
    assert resp.status == 409
    body = await resp.json()
    assert body["outcome"] == "EVSE_OFFLINE"
    # synchronous commands are recorded too
    _, recorded = await _command(gw, partner, body["commandId"])
    assert recorded["state"] == "EVSE_OFFLINE" and recorded["mode"] == "sync"


async def test_commands_of_others_and_unknown_ids_are_404(
    gw: Gateway, partner: Partner, make_partner: MakePartner, charger: MakeCharger
) -> None:
    other = await make_partner()
    theirs = await charger(other)
    resp = await gw.client.post(
        f"/api/v1/chargers/{theirs}/control?mode=async",
        json={"action": "on"},
        headers=other.headers,
    )
    their_command = (await resp.json())["commandId"]
    bodies = []
    for command_id in (their_command, "cmd_0000000000000000", "nonsense", "cmd_%7B%7D"):
        path = f"/api/v1/commands/{command_id}"
        resp = await gw.client.get(path, headers=partner.headers)
        assert resp.status == 404
        body = await resp.json()
        assert_error_body(body, 404, "Not Found", resp.url.path)
        bodies.append(body["message"])
    assert set(bodies) == {"command not found"}
    assert (await _command(gw, other, their_command))[0] == 200


async def test_bad_mode_is_400(gw: Gateway, partner: Partner, charger: MakeCharger) -> None:
    cp = await charger(partner)
    path = f"/api/v1/chargers/{cp}/control"
    resp = await gw.client.post(
        path, params={"mode": "later"}, json={"action": "on"}, headers=partner.headers
    )
    assert resp.status == 400
    assert_error_body(await resp.json(), 400, "Bad Request", path)


async def test_a_command_whose_gateway_died_ends_as_recorded_or_timeout(
    gw: Gateway, partner: Partner, pool: asyncpg.Pool, uid: str
) -> None:
    now = datetime.now(UTC)
    assert state_of("ACCEPTED", "REJECTED", now, now) == "ACCEPTED"
    assert state_of(None, "REJECTED", now, now) == "REJECTED"
    assert state_of(None, None, now, now) == "PENDING"
    assert state_of(None, None, now - timedelta(minutes=5), now) == "TIMEOUT"

    # taken by a gateway that died; the node's outcome reached the commands table (recorder)
    command_id = f"cmd_{uid}{uid[:4]}abcdef"[:20]
    await pool.execute(
        "INSERT INTO partner_commands (id, partner_id, charger_id, action, request, mode,"
        " deadline) VALUES ($1, $2, 'CP-X', 'off', '{}', 'async', now())",
        command_id,
        partner.id,
    )
    await pool.execute(
        "INSERT INTO commands (id, partner_id, charger_id, action, outcome, response,"
        " completed_at) VALUES ($1, $2, 'CP-X', 'stop', 'REJECTED', $3, now())",
        command_id,
        partner.id,
        {"status": "Rejected"},
    )
    status, body = await _command(gw, partner, command_id)
    assert status == 200
    assert body["state"] == "REJECTED" and body["chargerResponse"] == {"status": "Rejected"}


async def test_a_timeout_the_gateway_concluded_yields_to_the_nodes_late_outcome(
    gw: Gateway, partner: Partner, pool: asyncpg.Pool
) -> None:
    """The partner was told 504 and to look again: the node's record of the charger's answer
    (its reply lost or late) is what the command shows."""
    now = datetime.now(UTC)
    assert state_of("TIMEOUT", "ACCEPTED", now, now) == "ACCEPTED"
    assert state_of("TIMEOUT", "TIMEOUT", now, now) == "TIMEOUT"
    assert state_of("REJECTED", "ACCEPTED", now, now) == "REJECTED"

    command_id = new_id("cmd")
    await pool.execute(
        "INSERT INTO partner_commands (id, partner_id, charger_id, action, request, mode,"
        " deadline, outcome, message, completed_at) VALUES ($1, $2, 'CP-X', 'on', '{}',"
        " 'sync', now(), 'TIMEOUT', 'no answer from the charger''s csms node in time', now())",
        command_id,
        partner.id,
    )
    status, body = await _command(gw, partner, command_id)
    assert (status, body["state"], body["message"]) == (
        200,
        "TIMEOUT",
        "no answer from the charger's csms node in time",
    )
    await pool.execute(
        "INSERT INTO commands (id, partner_id, charger_id, action, ocpp_action, outcome,"
        " response, completed_at) VALUES ($1, $2, 'CP-X', 'start',"
        " 'RemoteStartTransaction', 'ACCEPTED', $3, now())",
        command_id,
        partner.id,
        {"status": "Accepted"},
    )
    status, body = await _command(gw, partner, command_id)
    assert status == 200
    assert body["state"] == "ACCEPTED" and body["chargerResponse"] == {"status": "Accepted"}
    assert body["ocppAction"] == "RemoteStartTransaction" and body["message"] is None
