"""Tokens (RFID idTags / idTokens) through the API: the admin's register, list, read, change
and delete; a partner's own tokens, OCPI style; bad payloads that change nothing; and a change
through one gateway that a charger on another csms node meets within a second."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson
import pytest
import redis.asyncio as redis
from websockets.asyncio.client import connect

from csms.server import CsmsApp
from gateway import cursors
from shared import registry
from shared.redis_keys import TF, Keys
from shared.settings import Settings
from tests.gateway.support import (
    Gateway,
    MakeGateway,
    MakePartner,
    Partner,
    admin_headers,
    assert_error_body,
)

A = "/api/v1/admin/tokens"


async def call(gw: Gateway, method: str, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
    resp = await gw.client.request(
        method, path, json=body, headers=kw.pop("headers", admin_headers("alice")), **kw
    )
    return resp.status, await resp.json()


async def test_an_admin_registers_lists_changes_and_deletes_tokens(
    gw: Gateway, partner: Partner, pool: asyncpg.Pool, rds: redis.Redis, keys: Keys, uid: str
) -> None:
    tag = f"Tag-{uid}"
    status, body = await call(
        gw,
        "POST",
        A,
        {"id": tag, "status": "Accepted", "groupId": f"G-{uid}", "partnerId": partner.id},
    )
    assert status == 201, body
    assert body["id"] == tag and body["type"] == "ISO14443" and body["partnerId"] == partner.id
    assert (body["status"], body["effectiveStatus"], body["expiresAt"]) == (
        "Accepted",
        "Accepted",
        None,
    )
    projected = await rds.hgetall(keys.token(tag.upper()))
    assert projected[TF.STATUS] == "Accepted" and projected[TF.GROUP] == f"G-{uid}"
    assert projected[TF.PARTNER] == partner.id

    # ids are case-insensitive, as OCPP compares them
    status, found = await call(gw, "GET", f"{A}/{tag.lower()}")
    assert status == 200 and found["id"] == tag
    status, body = await call(gw, "POST", A, {"id": tag.upper(), "status": "Blocked"})
    assert status == 409, body
    status, _ = await call(
        gw, "POST", A, {"id": f"OP-{uid}", "status": "Blocked", "type": "KeyCode"}
    )
    assert status == 201

    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    status, body = await call(gw, "PATCH", f"{A}/{tag}", {"expiresAt": past, "groupId": None})
    assert status == 200, body
    assert (body["status"], body["effectiveStatus"], body["groupId"]) == (
        "Accepted",
        "Expired",
        None,
    )
    projected = await rds.hgetall(keys.token(tag.upper()))
    assert projected[TF.GROUP] == "" and float(projected[TF.EXPIRES]) < time.time()

    status, page = await call(gw, "GET", A, params={"partnerId": partner.id})
    assert [t["id"] for t in page["tokens"]] == [tag]
    status, page = await call(gw, "GET", A, params={"status": "Blocked", "limit": "500"})
    assert f"OP-{uid}" in [t["id"] for t in page["tokens"]] and tag not in str(page)
    # every page of one, to the end
    seen, cursor = [], None
    while True:
        params = {"limit": "1", **({"cursor": cursor} if cursor else {})}
        status, page = await call(gw, "GET", A, params=params)
        assert status == 200 and len(page["tokens"]) <= 1
        seen += [t["id"] for t in page["tokens"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert {tag, f"OP-{uid}"} <= set(seen) and len(seen) == len(set(seen))

    status, body = await call(gw, "DELETE", f"{A}/{tag}")
    assert status == 200 and body["id"] == tag
    assert not await rds.exists(keys.token(tag.upper()))
    status, body = await call(gw, "GET", f"{A}/{tag}")
    assert status == 404
    assert_error_body(body, 404, "Not Found", f"{A}/{tag}")
    actions = [e.action for e in await registry.audit_entries(pool, target=tag)]
    assert actions == ["token.delete", "token.update", "token.create"]


async def test_bad_payloads_are_refused_and_change_nothing(
    gw: Gateway, pool: asyncpg.Pool, rds: redis.Redis, keys: Keys, uid: str
) -> None:
    tag = f"BAD-{uid}"
    for bad in (
        {"id": tag},  # no status
        {"id": tag, "status": "Maybe"},
        {"id": tag, "status": "Accepted", "type": "Barcode"},
        {"id": "has space", "status": "Accepted"},
        {"id": "x" * 37, "status": "Accepted"},
        {"id": tag, "status": "Accepted", "expiresAt": "2027-01-01T00:00:00"},  # no zone
        {"id": tag, "status": "Accepted", "expiresAt": "9999-12-31T23:59:59-14:00"},  # no UTC
        {"id": tag, "status": "Accepted", "colour": "blue"},
        {"id": tag, "status": "Accepted", "groupId": "a/b"},
        {"id": 42, "status": "Accepted"},
        [tag],
    ):
        status, body = await call(gw, "POST", A, bad)
        assert status == 400, (bad, body)
    status, _ = await call(
        gw, "POST", A, {"id": tag, "status": "Accepted", "partnerId": f"nope-{uid}"}
    )
    assert status == 404
    resp = await gw.client.post(A, data=b"id=x", headers=admin_headers())
    assert resp.status == 415
    with pytest.raises(registry.NotFound):
        await registry.get_token(pool, tag)
    assert not await rds.exists(keys.token(tag.upper()))

    status, _ = await call(gw, "POST", A, {"id": tag, "status": "Accepted"})
    assert status == 201
    before = await registry.get_token(pool, tag)
    for bad in (
        {"status": None},
        {"status": "Maybe"},
        {"type": None},
        {"expiresAt": "tomorrow"},
        {"expiresAt": "9999-12-31T23:59:59-14:00"},
        {"partnerId": "Not A Partner"},
        {"colour": "blue"},
    ):
        status, body = await call(gw, "PATCH", f"{A}/{tag}", bad)
        assert status == 400, (bad, body)
    status, _ = await call(gw, "PATCH", f"{A}/{tag}", {"partnerId": f"nope-{uid}"})
    assert status == 404
    assert await registry.get_token(pool, tag) == before
    assert (await rds.hgetall(keys.token(tag.upper())))[TF.STATUS] == "Accepted"
    for path in (f"{A}/bad%20id", f"{A}/{'x' * 37}"):
        status, _ = await call(gw, "PATCH", path, {"status": "Blocked"})
        assert status == 404


async def test_a_partner_manages_its_own_tokens(
    gw: Gateway,
    make_partner: MakePartner,
    pool: asyncpg.Pool,
    rds: redis.Redis,
    keys: Keys,
    uid: str,
) -> None:
    me, other = await make_partner(), await make_partner()
    tag = f"DRV-{uid}"
    path = f"/api/v1/tokens/{tag}"
    resp = await gw.client.put(
        path, json={"status": "Accepted", "groupId": "FLEET", "type": "eMAID"}, headers=me.headers
    )
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    assert (body["partnerId"], body["groupId"], body["type"]) == (me.id, "FLEET", "eMAID")
    # a PUT is the whole token: what it leaves out takes the default
    resp = await gw.client.put(path, json={"status": "Accepted"}, headers=me.headers)
    assert resp.status == 200
    assert (await resp.json())["groupId"] is None and (await resp.json())["type"] == "ISO14443"
    resp = await gw.client.patch(path.lower(), json={"status": "Blocked"}, headers=me.headers)
    assert resp.status == 200 and (await resp.json())["status"] == "Blocked"
    assert (await rds.hgetall(keys.token(tag.upper())))[TF.STATUS] == "Blocked"
    resp = await gw.client.get(path, headers=me.headers)
    assert (await resp.json())["status"] == "Blocked"
    resp = await gw.client.get("/api/v1/tokens", headers=me.headers, params={"status": "Blocked"})
    assert [t["id"] for t in (await resp.json())["tokens"]] == [tag]

    # bad payloads change nothing
    for bad in ({}, {"status": "Accepted", "partnerId": other.id}, {"status": "Unknown"}):
        resp = await gw.client.put(path, json=bad, headers=me.headers)
        assert resp.status == 400, bad
    resp = await gw.client.patch(path, json={"partnerId": other.id}, headers=me.headers)
    assert resp.status == 400  # a partner cannot give its token away
    assert (await registry.get_token(pool, tag)).status == "Blocked"

    # the other partner: 404 for every call, and the token stays as it is
    for method, body in (
        ("GET", None),
        ("PATCH", {"status": "Accepted"}),
        ("PUT", {"status": "Accepted"}),
    ):
        resp = await gw.client.request(method, path, json=body, headers=other.headers)
        assert resp.status == 404
        assert (await resp.json())["message"] == "token not found"
    token = await registry.get_token(pool, tag)
    assert (token.partner_id, token.status) == (me.id, "Blocked")

    # sessions started with the token, on any charger: the token's partner sees them
    now = datetime.now(UTC)
    await pool.executemany(
        "INSERT INTO transactions (charger_id, transaction_id, connector_id, id_tag, started_at,"
        " auth_status, token_partner_id) VALUES ($1, $2, 1, $3, $4, $5, $6)",
        [
            (f"ANY-{uid}", "1", tag.lower(), now - timedelta(minutes=2), "Accepted", me.id),
            (f"ANY-{uid}", "2", tag, now - timedelta(minutes=1), "Blocked", me.id),
            (f"ANY-{uid}", "3", f"OTHER-{uid}", now, "Accepted", me.id),
        ],
    )
    resp = await gw.client.get(f"{path}/sessions", headers=me.headers)
    sessions = (await resp.json())["sessions"]
    assert [(s["transactionId"], s["authStatus"], s["chargerId"]) for s in sessions] == [
        ("2", "Blocked", f"ANY-{uid}"),
        ("1", "Accepted", f"ANY-{uid}"),
    ]
    resp = await gw.client.get(f"{path}/sessions", headers=other.headers)
    assert resp.status == 404

    # two chargers' sessions with the same start and the same (charger-chosen) id: a page at
    # a time, neither is skipped
    same = now - timedelta(minutes=3)
    await pool.executemany(
        "INSERT INTO transactions (charger_id, transaction_id, connector_id, id_tag, started_at,"
        " auth_status, token_partner_id) VALUES ($1, 'T', 1, $2, $3, 'Accepted', $4)",
        [(f"TWIN{n}-{uid}", tag, same, me.id) for n in (1, 2)],
    )
    paged, cursor = [], None
    while True:
        params = {"limit": "1", **({"cursor": cursor} if cursor else {})}
        resp = await gw.client.get(f"{path}/sessions", headers=me.headers, params=params)
        page = await resp.json()
        paged += [(s["chargerId"], s["transactionId"]) for s in page["sessions"]]
        if (cursor := page["nextCursor"]) is None:
            break
    assert paged == [
        (f"ANY-{uid}", "2"),
        (f"ANY-{uid}", "1"),
        (f"TWIN2-{uid}", "T"),
        (f"TWIN1-{uid}", "T"),
    ]
    # a cursor handed out before cursors held the charger still pages
    old = cursors.encode(now.isoformat(), "9")
    resp = await gw.client.get(f"{path}/sessions", headers=me.headers, params={"cursor": old})
    assert resp.status == 200 and len((await resp.json())["sessions"]) == 4


async def test_a_change_through_one_gateway_is_enforced_on_another_node_within_a_second(
    make_gateway: MakeGateway,
    settings: Settings,
    uid: str,
) -> None:
    gateway_a, gateway_b = await make_gateway(), await make_gateway()
    nodes = []
    for name in ("a", "b"):
        app = CsmsApp(
            settings.model_copy(
                update={
                    "csms_port": 0,
                    "node_id": f"tok-{name}-{uid}",
                    "authorize_unknown": "Invalid",
                }
            )
        )
        await app.start()
        nodes.append(app)
    node_b = nodes[1]
    tag = f"CARD-{uid}"
    try:
        status, _ = await call(gateway_b, "POST", A, {"id": tag, "status": "Accepted"})
        assert status == 201
        async with connect(
            f"{node_b.url}/TOKB-{uid}",
            subprotocols=["ocpp1.6"],  # type: ignore[list-item]
        ) as ws:
            ids = iter(range(1_000_000))

            async def authorize() -> str:
                await ws.send(orjson.dumps([2, f"m{next(ids)}", "Authorize", {"idTag": tag}]))
                reply = orjson.loads(await ws.recv())
                return str(reply[2]["idTagInfo"]["status"])

            assert await authorize() == "Accepted"
            changed = time.monotonic()  # from the admin's request on
            status, _ = await call(gateway_a, "PATCH", f"{A}/{tag}", {"status": "Blocked"})
            assert status == 200
            while (answer := await authorize()) != "Blocked":
                assert answer == "Accepted"
                assert time.monotonic() - changed < 1.0, "not enforced within a second"
            assert time.monotonic() - changed < 1.0
            status, body = await call(gateway_b, "GET", f"{A}/{tag}")
            assert body["status"] == "Blocked"
            status, _ = await call(gateway_a, "DELETE", f"{A}/{tag}")
            assert await authorize() == "Invalid"  # unknown again
    finally:
        for app in nodes:
            await app.stop()
