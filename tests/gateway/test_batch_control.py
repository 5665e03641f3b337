"""POST /chargers/batch/control: one command for many chargers, each outcome reported."""

from __future__ import annotations

import redis.asyncio as redis

from shared.bus import Action, CommandReply, CommandRequest, Outcome
from shared.redis_keys import Keys
from tests.gateway.support import (
    Gateway,
    MakeCharger,
    Partner,
    StartNode,
    assert_error_body,
    eventually,
    mark_alive,
    online_state,
)

PATH = "/api/v1/chargers/batch/control"


async def test_each_chargers_outcome_is_reported(
    gw: Gateway,
    partner: Partner,
    charger: MakeCharger,
    fake_node: StartNode,
    rds: redis.Redis,
    keys: Keys,
    uid: str,
) -> None:
    answers: dict[str, Outcome] = {}

    def script(request: CommandRequest) -> CommandReply:
        outcome = answers[request.charger_id]
        return CommandReply(
            id=request.id,
            outcome=outcome,
            ocpp_action="RemoteStopTransaction",
            response={"status": "Accepted" if outcome is Outcome.ACCEPTED else "Rejected"},
            message=None if outcome is not Outcome.NOT_SUPPORTED else "no transaction is running",
        )

    node = await fake_node(f"n-{uid}", script)
    await mark_alive(rds, keys, node.node_id, [gw])
    accepted = await charger(partner, **online_state(node.node_id))
    rejected = await charger(partner, **online_state(node.node_id))
    idle = await charger(partner, **online_state(node.node_id))
    offline = await charger(partner)
    answers.update(
        {accepted: Outcome.ACCEPTED, rejected: Outcome.REJECTED, idle: Outcome.NOT_SUPPORTED}
    )
    ids = [accepted, rejected, f"NOPE-{uid}", idle, offline, accepted]
    resp = await gw.client.post(
        PATH, json={"ids": ids, "action": "off", "connectorId": 1}, headers=partner.headers
    )
    assert resp.status == 200
    body = await resp.json()
    results = {r["chargerId"]: r for r in body["results"]}
    assert [r["chargerId"] for r in body["results"]] == ids[:5]  # duplicates folded
    assert (results[accepted]["state"], results[accepted]["httpStatus"]) == ("ACCEPTED", 200)
    assert results[accepted]["chargerResponse"] == {"status": "Accepted"}
    assert (results[rejected]["state"], results[rejected]["httpStatus"]) == ("REJECTED", 200)
    assert (results[idle]["state"], results[idle]["httpStatus"]) == ("NOT_SUPPORTED", 409)
    assert results[idle]["message"] == "no transaction is running"
    assert (results[offline]["state"], results[offline]["httpStatus"]) == ("EVSE_OFFLINE", 409)
    assert results[f"NOPE-{uid}"]["state"] == "NOT_FOUND"
    assert body["summary"] == {
        "ACCEPTED": 1,
        "REJECTED": 1,
        "NOT_FOUND": 1,
        "NOT_SUPPORTED": 1,
        "EVSE_OFFLINE": 1,
    }
    assert sorted(r.charger_id for r in node.received) == sorted([accepted, rejected, idle])
    assert {(r.action, tuple(r.params.items())) for r in node.received} == {
        (Action.STOP, (("connectorId", 1),))
    }
    # every command is at its own URL too
    resp = await gw.client.get(
        f"/api/v1/commands/{results[rejected]['commandId']}", headers=partner.headers
    )
    assert (await resp.json())["state"] == "REJECTED"


async def test_asynchronous_batch(
    gw: Gateway,
    partner: Partner,
    charger: MakeCharger,
    fake_node: StartNode,
    rds: redis.Redis,
    keys: Keys,
    uid: str,
) -> None:
    def accept(request: CommandRequest) -> CommandReply:
        return CommandReply(id=request.id, outcome=Outcome.ACCEPTED)

    node = await fake_node(f"n-{uid}", accept)
    await mark_alive(rds, keys, node.node_id, [gw])
    ids = [await charger(partner, **online_state(node.node_id)) for _ in range(3)]
    resp = await gw.client.post(
        PATH, params={"mode": "async"}, json={"ids": ids, "action": "on"}, headers=partner.headers
    )
    assert resp.status == 202
    assert resp.headers["Preference-Applied"] == "respond-async"
    body = await resp.json()
    assert body["summary"] == {"PENDING": 3}
    command_ids = [r["commandId"] for r in body["results"]]

    async def all_accepted() -> bool:
        for command_id in command_ids:
            resp = await gw.client.get(f"/api/v1/commands/{command_id}", headers=partner.headers)
            if (await resp.json())["state"] != "ACCEPTED":
                return False
        return True

    await eventually(all_accepted)
    assert sorted(r.id for r in node.received) == sorted(command_ids)


async def test_batch_validation(gw: Gateway, partner: Partner) -> None:
    for bad in (
        {"ids": [f"B{i}" for i in range(1001)], "action": "on"},
        {"ids": [], "action": "on"},
        {"ids": ["A"], "action": "explode"},
        {"ids": ["A"]},
        {"ids": ["a/b"], "action": "on"},
        {"ids": ["A"], "action": "on", "extra": 1},
    ):
        resp = await gw.client.post(PATH, json=bad, headers=partner.headers)
        assert resp.status == 400, bad
        assert_error_body(await resp.json(), 400, "Bad Request", PATH)
