"""Local authorization lists through the admin API to a charger on a real socket: built from
the token store (the operator's and the charger's partner's tokens, never another partner's),
Full first and Differential after, one version per charger, kept only once accepted."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import redis.asyncio as redis

from csms.server import CsmsApp
from shared import registry
from shared.redis_keys import Keys
from tests.csms.conftest import open_booted
from tests.gateway.support import (
    LOCAL_LIST,
    Gateway,
    MakeCharger,
    MakePartner,
    admin_headers,
    list_entries16,
    push_local_list,
)


async def test_full_then_differential_with_a_version_per_charger_in_16(
    node: CsmsApp,
    gw: Gateway,
    make_partner: MakePartner,
    charger: MakeCharger,
    pool: asyncpg.Pool,
    rds: redis.Redis,
    keys: Keys,
    uid: str,
) -> None:
    mine, theirs = await make_partner(), await make_partner()
    cp = await charger(mine)
    later = datetime(2031, 1, 1, tzinfo=UTC)
    ops = await registry.create_token(
        pool, rds, keys, f"O{uid}"[:20], status="Accepted", group_id="FLEET"
    )
    own = await registry.create_token(
        pool, rds, keys, f"P{uid}"[:20], status="Blocked", expires_at=later, partner_id=mine.id
    )
    other = await registry.create_token(
        pool, rds, keys, f"Q{uid}"[:20], status="Accepted", partner_id=theirs.id
    )
    too_long = await registry.create_token(
        pool, rds, keys, f"LONG-{uid}-" + "X" * 20, status="Accepted", partner_id=mine.id
    )
    raw = await open_booted(node, cp, "ocpp1.6")

    payload, answer = await push_local_list(gw, raw, cp)
    assert (payload["listVersion"], payload["updateType"]) == (1, "Full")
    sent = list_entries16(payload)
    assert sent[ops.id] == {"status": "Accepted", "parentIdTag": "FLEET"}
    assert sent[own.id] == {"status": "Blocked", "expiryDate": "2031-01-01T00:00:00Z"}
    assert other.id not in sent and too_long.id not in sent  # another partner's; over 20
    assert (answer["versionNumber"], answer["outcome"]) == (1, "ACCEPTED")

    # what changed since: one deleted, one changed, one added
    await registry.delete_token(pool, rds, keys, ops.id)
    await registry.update_token(pool, rds, keys, own.id, {"status": "Accepted"})
    added = await registry.create_token(
        pool, rds, keys, f"N{uid}"[:20], status="Accepted", partner_id=mine.id
    )
    payload, answer = await push_local_list(gw, raw, cp)
    assert (payload["listVersion"], payload["updateType"]) == (2, "Differential")
    assert list_entries16(payload) == {
        own.id: {"status": "Accepted", "expiryDate": "2031-01-01T00:00:00Z"},
        added.id: {"status": "Accepted"},
        ops.id: None,  # no idTagInfo: remove it
    }
    assert (answer["changed"], answer["removed"]) == (sorted([own.id, added.id]), [ops.id])

    # a list the charger refuses is not kept: the next one has the same version
    payload, answer = await push_local_list(gw, raw, cp, answer="VersionMismatch")
    assert (payload["listVersion"], answer["outcome"]) == (3, "REJECTED")
    resp = await gw.client.get(LOCAL_LIST.format(cp), headers=admin_headers())
    held = await resp.json()
    assert held["versionNumber"] == 2
    ours = {e["idToken"]: e["status"] for e in held["entries"]}
    assert ours[own.id] == "Accepted" and ours[added.id] == "Accepted" and ops.id not in ours
    payload, _ = await push_local_list(gw, raw, cp, updateType="Full")
    assert (payload["listVersion"], payload["updateType"]) == (3, "Full")
    assert too_long.id not in list_entries16(payload)

    audit = await gw.client.get(
        "/api/v1/admin/audit",
        params={"target": cp, "action": "charger.local_list"},
        headers=admin_headers(),
    )
    assert [e["details"]["version"] for e in (await audit.json())["entries"]] == [3, 2, 1]


async def test_a_201_charger_gets_id_tokens_with_their_type_and_group(
    node: CsmsApp,
    gw: Gateway,
    make_partner: MakePartner,
    charger: MakeCharger,
    pool: asyncpg.Pool,
    rds: redis.Redis,
    keys: Keys,
    uid: str,
) -> None:
    mine = await make_partner()
    cp = await charger(mine)
    token = await registry.create_token(
        pool,
        rds,
        keys,
        f"EMAID-{uid}-LONGER-THAN-TWENTY",
        status="Accepted",
        type="eMAID",
        group_id="GROUP-1",
        partner_id=mine.id,
    )
    raw = await open_booted(node, cp, "ocpp2.0.1")
    payload, answer = await push_local_list(gw, raw, cp)
    assert (payload["versionNumber"], payload["updateType"]) == (1, "Full")
    [entry] = [e for e in payload["localAuthorizationList"] if e["idToken"]["idToken"] == token.id]
    assert entry == {
        "idToken": {"idToken": token.id, "type": "eMAID"},
        "idTokenInfo": {
            "status": "Accepted",
            "groupIdToken": {"idToken": "GROUP-1", "type": "Central"},
        },
    }
    assert answer["outcome"] == "ACCEPTED"


async def test_offline_unknown_and_unregistered_chargers(
    gw: Gateway, charger: MakeCharger, make_partner: MakePartner, uid: str
) -> None:
    resp = await gw.client.post(LOCAL_LIST.format(f"NOPE-{uid}"), json={}, headers=admin_headers())
    assert resp.status == 404
    cp = await charger(await make_partner())  # registered without a protocol, never connected
    resp = await gw.client.post(LOCAL_LIST.format(cp), json={}, headers=admin_headers())
    assert resp.status == 409
    resp = await gw.client.post(
        LOCAL_LIST.format(cp), json={"updateType": "Partial"}, headers=admin_headers()
    )
    assert resp.status == 400
