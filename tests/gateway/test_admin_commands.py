"""The operator command API (and the partners' unlock and reset): any OCPP message a central system sends, through a real gateway
and a real csms node to a charger on a real socket; checked against the official schema
before anything is sent, recorded, and audited without its secrets."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import orjson
import pytest
import redis.asyncio as redis

from csms.server import CsmsApp
from shared.ocpp_schemas import CSMS_ACTIONS
from shared.redaction import MASK
from shared.redis_keys import F, Keys
from simulators import SimCharger16, SimCharger201
from simulators.charger import SimCharger
from tests.csms.conftest import RawCharger, open_booted
from tests.gateway.support import (
    Gateway,
    MakeCharger,
    MakeGateway,
    MakePartner,
    Partner,
    admin_headers,
    eventually,
)

ADMIN = "/api/v1/admin"


async def _send(gw: Gateway, charger_id: str, body: Any, **params: str) -> Any:
    return await gw.client.post(
        f"{ADMIN}/chargers/{charger_id}/commands",
        json=body,
        params=params,
        headers=admin_headers("alice"),
    )


async def _answered(raw: RawCharger, answer: dict[str, Any]) -> list[Any]:
    """The CALL the charger receives, answered with `answer`."""
    call = await raw.recv_call()
    await raw.answer(call[1], answer)
    return call


async def test_a_message_reaches_the_charger_and_its_answer_comes_back(
    node: CsmsApp, gw: Gateway, uid: str
) -> None:
    cp = f"OPS-{uid}"
    raw = await open_booted(node, cp)
    sent = asyncio.ensure_future(_send(gw, cp, {"action": "GetLocalListVersion", "params": {}}))
    call = await _answered(raw, {"listVersion": 7})
    assert call[2:] == ["GetLocalListVersion", {}]
    resp = await sent
    assert resp.status == 200
    body = await resp.json()
    assert body["action"] == "GetLocalListVersion" and body["protocol"] == "ocpp1.6"
    assert (body["outcome"], body["chargerResponse"]) == ("ACCEPTED", {"listVersion": 7})

    # recorded: readable by id, and in the audit log under the admin who sent it
    resp = await gw.client.get(f"{ADMIN}/commands/{body['commandId']}", headers=admin_headers())
    record = await resp.json()
    assert (record["state"], record["action"], record["mode"]) == (
        "ACCEPTED",
        "GetLocalListVersion",
        "sync",
    )
    resp = await gw.client.get(
        f"{ADMIN}/audit", params={"target": cp, "action": "command."}, headers=admin_headers()
    )
    [entry] = (await resp.json())["entries"]
    assert (entry["actor"], entry["action"]) == ("admin:alice", "command.GetLocalListVersion")


async def test_a_201_charger_takes_201_messages_and_a_rejection_is_still_an_answer(
    node: CsmsApp, gw: Gateway, uid: str
) -> None:
    cp = f"OPS2-{uid}"
    raw = await open_booted(node, cp, "ocpp2.0.1")
    sent = asyncio.ensure_future(_send(gw, cp, {"action": "Reset", "params": {"type": "OnIdle"}}))
    await _answered(raw, {"status": "Rejected"})
    resp = await sent
    body = await resp.json()
    assert resp.status == 200, body
    assert (body["protocol"], body["outcome"]) == ("ocpp2.0.1", "REJECTED")


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"action": "Reset", "params": {"type": "Sometimes"}}, "schema"),
        ({"action": "Reset", "params": {}}, "schema"),
        ({"action": "GetVariables", "params": {"getVariableData": []}}, "has no GetVariables"),
    ],
)
async def test_an_invalid_message_is_refused_with_422_and_nothing_is_sent(
    node: CsmsApp, gw: Gateway, pool: asyncpg.Pool, uid: str, body: Any, why: str
) -> None:
    cp = f"OPS3-{uid}"
    raw = await open_booted(node, cp)
    resp = await _send(gw, cp, body)
    assert resp.status == 422
    assert why in (await resp.json())["message"]
    assert (
        await pool.fetchval("SELECT count(*) FROM partner_commands WHERE charger_id = $1", cp) == 0
    )
    # a message no central system sends in any version is not even a valid body
    resp = await _send(gw, cp, {"action": "BootNotification", "params": {}})
    assert resp.status == 400
    # the next frame the charger sees is the next valid command, not the refused one
    sent = asyncio.ensure_future(_send(gw, cp, {"action": "ClearCache", "params": {}}))
    call = await _answered(raw, {"status": "Accepted"})
    assert call[2] == "ClearCache"
    assert (await sent).status == 200


async def test_offline_unknown_callerror_and_timeout_have_their_own_answers(
    node: CsmsApp, make_gateway: MakeGateway, uid: str
) -> None:
    gw = await make_gateway(command_timeout=1.0)
    assert (await _send(gw, f"NOPE-{uid}", {"action": "ClearCache", "params": {}})).status == 404

    cp = f"OPS4-{uid}"
    raw = await open_booted(node, cp)
    sent = asyncio.ensure_future(
        _send(gw, cp, {"action": "DataTransfer", "params": {"vendorId": "acme"}})
    )
    call = await raw.recv_call()
    await raw.ws.send(f'[4,"{call[1]}","NotImplemented","no data transfer here",{{}}]')
    resp = await sent
    body = await resp.json()
    assert resp.status == 502
    assert (body["outcome"], body["ocppError"]) == (
        "FAILED",
        {"code": "NotImplemented", "description": "no data transfer here"},
    )

    resp = await _send(gw, cp, {"action": "ClearCache", "params": {}})  # never answered
    assert (resp.status, (await resp.json())["outcome"]) == (504, "TIMEOUT")

    await raw.ws.close()
    await eventually(lambda: _offline(gw, cp))
    resp = await _send(gw, cp, {"action": "ClearCache", "params": {}})
    assert (resp.status, (await resp.json())["outcome"]) == (409, "EVSE_OFFLINE")


async def _offline(gw: Gateway, cp: str) -> bool:
    resp = await gw.client.get(f"{ADMIN}/chargers/{cp}", headers=admin_headers())
    return resp.status == 404 or not (await resp.json())["online"]


async def test_async_mode_answers_202_and_the_outcome_follows(
    node: CsmsApp, gw: Gateway, uid: str
) -> None:
    cp = f"OPS5-{uid}"
    raw = await open_booted(node, cp)
    resp = await _send(
        gw,
        cp,
        {
            "action": "UpdateFirmware",
            "params": {
                "location": "https://fw.example/1.5.bin",
                "retrieveDate": "2026-01-01T00:00:00Z",
            },
        },
        mode="async",
    )
    assert resp.status == 202
    accepted = await resp.json()
    assert resp.headers["Location"] == accepted["location"]
    await _answered(raw, {})

    async def done() -> bool:
        found = await gw.client.get(accepted["location"], headers=admin_headers())
        return (await found.json())["state"] == "ACCEPTED"

    await eventually(done)


async def test_secrets_in_a_payload_are_masked_in_the_record(
    node: CsmsApp, gw: Gateway, pool: asyncpg.Pool, rds: redis.Redis, keys: Keys, uid: str
) -> None:
    cp = f"OPS6-{uid}"
    raw = await open_booted(node, cp)
    secret = "a-new-basic-auth-password"
    sent = asyncio.ensure_future(
        _send(
            gw,
            cp,
            {
                "action": "ChangeConfiguration",
                "params": {"key": "AuthorizationKey", "value": secret},
            },
        )
    )
    call = await _answered(raw, {"status": "Accepted"})
    assert call[3]["value"] == secret  # the charger gets it
    command_id = (await (await sent).json())["commandId"]
    resp = await gw.client.get(
        f"{ADMIN}/audit", params={"target": cp, "action": "command."}, headers=admin_headers()
    )
    assert secret not in str(await resp.json())

    # the node's record of the outcome, on its way to the commands table (the stream is shared)
    events: list[dict[str, Any]] = []

    async def written() -> bool:
        entries = await rds.xrange(keys.stream_for(cp))
        decoded = [orjson.loads(fields["e"]) for _, fields in entries]
        events[:] = [e for e in decoded if e.get("command_id") == command_id]
        return bool(events)

    await eventually(written)
    assert events[0]["params"]["payload"]["value"] == MASK
    request = await pool.fetchval(
        "SELECT request::text FROM partner_commands WHERE id = $1", command_id
    )
    assert secret not in request and MASK in request


@pytest.mark.parametrize(
    ("protocol", "unlock_call", "reset_call"),
    [
        ("ocpp1.6", {"connectorId": 2}, {"type": "Hard"}),
        ("ocpp2.0.1", {"evseId": 2, "connectorId": 1}, {"type": "Immediate"}),
    ],
)
async def test_partners_unlock_and_reset_their_own_chargers(
    node: CsmsApp,
    gw: Gateway,
    partner: Partner,
    make_partner: MakePartner,
    charger: MakeCharger,
    protocol: str,
    unlock_call: dict[str, Any],
    reset_call: dict[str, Any],
) -> None:
    cp = await charger(partner)
    raw = await open_booted(node, cp, protocol)
    for path, body, action, expected in (
        ("unlock", {"connectorId": 2}, "UnlockConnector", unlock_call),
        ("reset", {"type": "Hard"}, "Reset", reset_call),
    ):
        sent = asyncio.ensure_future(
            gw.client.post(f"/api/v1/chargers/{cp}/{path}", json=body, headers=partner.headers)
        )
        call = await _answered(
            raw, {"status": "Unlocked" if action == "UnlockConnector" else "Accepted"}
        )
        assert call[2:] == [action, expected]
        resp = await sent
        answer = await resp.json()
        assert resp.status == 200, answer
        assert (answer["action"], answer["outcome"]) == (path, "ACCEPTED")

    # another partner's attempt is a 404, as for a charger that does not exist
    other = await make_partner()
    resp = await gw.client.post(
        f"/api/v1/chargers/{cp}/unlock", json={"connectorId": 1}, headers=other.headers
    )
    assert resp.status == 404
    resp = await gw.client.post(
        f"/api/v1/chargers/{cp}/unlock", json={"connectorId": "1"}, headers=partner.headers
    )
    assert resp.status == 400


# every message a central system sends, both versions, to the charger simulators -----------

# what reboots the charger (or may, after its steps) goes last
_LAST = ("GetDiagnostics", "GetLog", "PublishFirmware", "UpdateFirmware", "Reset")


def _samples(protocol: str) -> dict[str, dict[str, Any]]:
    # the simulators' own tests hold a valid request of every message, checked there
    # against the official schema
    if protocol == "ocpp1.6":
        from tests.simulators.test_sim_v16 import REQUESTS
    else:
        from tests.simulators.test_sim_v201 import REQUESTS
    return REQUESTS


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1"])
async def test_every_csms_message_reaches_a_simulated_charger_and_is_answered(
    node: CsmsApp, gw: Gateway, rds: redis.Redis, keys: Keys, uid: str, protocol: str
) -> None:
    samples = _samples(protocol)
    assert set(samples) == CSMS_ACTIONS[protocol]  # nothing left out
    cls: type[SimCharger] = SimCharger16 if protocol == "ocpp1.6" else SimCharger201
    cp = f"ALL{protocol[-3:].replace('.', '')}-{uid}"
    # long steps: no firmware reboot midway; the csms checks every frame the charger sends
    sim = cls(cp, node.url, meter_interval=60, reconnect_delay=0.05, step_delay=30)
    await sim.start()
    try:
        await eventually(lambda: _booted_sim(rds, keys, cp))
        order = sorted(set(samples) - set(_LAST)) + [a for a in _LAST if a in samples]
        for action in order:
            resp = await _send(gw, cp, {"action": action, "params": samples[action]})
            body = await resp.json()
            # 200: the charger answered, and its answer matched the schema (else 502)
            assert resp.status == 200, (action, body)
            assert body["action"] == action and body["outcome"] in ("ACCEPTED", "REJECTED")
    finally:
        await sim.stop()


async def _booted_sim(rds: redis.Redis, keys: Keys, cp: str) -> bool:
    return await rds.hget(keys.charger(cp), F.VENDOR) is not None  # its boot is stored
