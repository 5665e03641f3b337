"""The admin API: partners, keys, chargers and the audit log, behind the admin token; changes
to keys and partners reach every gateway at once, not when their caches expire."""

from __future__ import annotations

from typing import Any

import asyncpg
import redis.asyncio as redis

from shared import apikeys
from shared.redis_keys import F, Keys
from tests.gateway.support import (
    Gateway,
    MakeCharger,
    MakeGateway,
    MakePartner,
    Partner,
    admin_headers,
    assert_error_body,
    eventually,
    mark_alive,
    online_state,
)

A = "/api/v1/admin"


async def call(gw: Gateway, method: str, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
    resp = await gw.client.request(
        method, path, json=body, headers=kw.pop("headers", admin_headers("alice")), **kw
    )
    return resp.status, await resp.json()


async def test_admin_routes_want_the_admin_token(
    gw: Gateway, partner: Partner, make_gateway: MakeGateway
) -> None:
    path = f"{A}/partners"
    for headers, status in (
        ({}, 401),
        ({"Authorization": "Bearer wrong"}, 401),
        ({"Authorization": f"Bearer {apikeys.generate()}"}, 401),  # no such partner key
        (partner.headers, 403),  # a real partner key
        ({"Authorization": f"Bearer {partner.key}"}, 403),
    ):
        resp = await gw.client.get(path, headers=headers)
        assert resp.status == status, headers
        assert_error_body(await resp.json(), status, resp.reason or "", path)
        if status == 401:
            assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await gw.client.get(path, headers=admin_headers())).status == 200
    # the admin token is no partner key
    resp = await gw.client.get("/api/v1/chargers", headers=admin_headers())
    assert resp.status == 401
    # without a configured token the admin API is closed
    closed = await make_gateway(admin_token=None)
    resp = await closed.client.get(path, headers=admin_headers())
    assert resp.status == 403
    assert "disabled" in (await resp.json())["message"]


async def test_partner_lifecycle(gw: Gateway, pool: asyncpg.Pool, uid: str) -> None:
    pid = f"acme-{uid}"
    status, body = await call(
        gw, "POST", f"{A}/partners", {"id": pid, "name": "ACME", "chargerQuota": 2}
    )
    assert status == 201
    assert body["id"] == pid and body["status"] == "active" and body["chargerQuota"] == 2
    assert body["effectiveRateLimits"] == {"perMinute": 100, "perHour": 1000}
    assert body["chargers"] == 0
    status, body = await call(gw, "POST", f"{A}/partners", {"id": pid, "name": "Again"})
    assert status == 409
    assert_error_body(body, 409, "Conflict", f"{A}/partners")
    for bad in ({"id": "Bad Id", "name": "x"}, {"name": ""}, {"name": "x", "chargerQuota": -1}):
        status, body = await call(gw, "POST", f"{A}/partners", bad)
        assert status == 400, bad

    status, body = await call(
        gw, "PATCH", f"{A}/partners/{pid}", {"rateLimitMinute": 7, "chargerQuota": None}
    )
    assert status == 200
    assert body["rateLimitMinute"] == 7 and body["chargerQuota"] is None
    assert body["effectiveRateLimits"]["perMinute"] == 7 and body["name"] == "ACME"

    status, shown = await call(gw, "GET", f"{A}/partners/{pid}")
    assert status == 200 and shown == body
    status, body = await call(gw, "POST", f"{A}/partners/{pid}/suspend")
    assert status == 200 and body["status"] == "suspended"
    status, body = await call(gw, "GET", f"{A}/partners", params={"status": "suspended"})
    assert pid in [p["id"] for p in body["partners"]]
    status, body = await call(gw, "POST", f"{A}/partners/{pid}/reactivate")
    assert body["status"] == "active"

    status, body = await call(gw, "DELETE", f"{A}/partners/{pid}")
    assert status == 200 and body == {"partnerId": pid, "keysRevoked": 0, "chargersUnassigned": 0}
    for method, path in (
        ("GET", f"{A}/partners/{pid}"),
        ("DELETE", f"{A}/partners/{pid}"),
        ("POST", f"{A}/partners/{pid}/suspend"),
        ("GET", f"{A}/partners/NOT-VALID"),
    ):
        status, body = await call(gw, method, path)
        assert status == 404, path
        assert_error_body(body, 404, "Not Found", path)

    actions = await pool.fetch(
        "SELECT actor, action FROM audit_log WHERE target = $1 ORDER BY id", pid
    )
    assert [a["action"] for a in actions] == [
        "partner.create",
        "partner.update",
        "partner.suspend",
        "partner.reactivate",
        "partner.delete",
    ]
    assert {a["actor"] for a in actions} == {"admin:alice"}


async def test_partners_page_through(gw: Gateway, uid: str) -> None:
    ids = sorted(f"page-{uid}-{i}" for i in range(3))
    for pid in ids:
        await call(gw, "POST", f"{A}/partners", {"id": pid, "name": pid})
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": "1", **({"cursor": cursor} if cursor else {})}
        status, body = await call(gw, "GET", f"{A}/partners", params=params)
        assert status == 200
        seen += [p["id"] for p in body["partners"]]
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert [p for p in seen if p.startswith(f"page-{uid}")] == ids
    status, _ = await call(gw, "GET", f"{A}/partners", params={"cursor": "%%%"})
    assert status == 400


async def test_revocation_suspension_and_new_limits_reach_every_gateway_at_once(
    make_gateway: MakeGateway, make_partner: MakePartner, pool: asyncpg.Pool
) -> None:
    # caches that would otherwise hold the old answers for five minutes
    one = await make_gateway(key_cache_seconds=300)
    two = await make_gateway(share=False, key_cache_seconds=300)
    partner = await make_partner()
    for g in (one, two):
        assert (await g.client.get("/api/v1/chargers", headers=partner.headers)).status == 200

    async def everywhere(status: int, **header: str) -> bool:
        for g in (one, two):
            resp = await g.client.get("/api/v1/chargers", headers=partner.headers)
            if resp.status != status:
                return False
            if header and resp.headers.get("RateLimit-Policy") != header["policy"]:
                return False
        return True

    await call(one, "PATCH", f"{A}/partners/{partner.id}", {"rateLimitMinute": 50})
    await eventually(lambda: everywhere(200, policy="50;w=60, 1000;w=3600"))

    await call(one, "POST", f"{A}/partners/{partner.id}/suspend")
    await eventually(lambda: everywhere(403))
    await call(two, "POST", f"{A}/partners/{partner.id}/reactivate")
    await eventually(lambda: everywhere(200))

    key_id = await pool.fetchval("SELECT id FROM api_keys WHERE partner_id = $1", partner.id)
    status, body = await call(two, "POST", f"{A}/keys/{key_id}/revoke")
    assert status == 200 and body["state"] == "revoked" and body["revokedAt"]
    await eventually(lambda: everywhere(401))
    resp = await one.client.get("/api/v1/chargers", headers=partner.headers)
    assert (await resp.json())["message"] == "API key revoked"
    # revoking again changes nothing and is no error
    status, again = await call(one, "POST", f"{A}/keys/{key_id}/revoke")
    assert status == 200 and again["revokedAt"] == body["revokedAt"]


async def test_keys_issue_find_rotate_revoke(
    gw: Gateway, make_partner: MakePartner, pool: asyncpg.Pool
) -> None:
    partner = await make_partner()
    status, issued = await call(
        gw, "POST", f"{A}/partners/{partner.id}/keys", {"name": "production"}
    )
    assert status == 201
    key = issued["key"]
    assert apikeys.well_formed(key)
    assert issued["apiKey"]["prefix"] == key[: apikeys.DISPLAY_PREFIX_LEN]
    assert issued["apiKey"]["state"] == "active" and issued["apiKey"]["name"] == "production"
    assert (await gw.client.get("/api/v1/chargers", headers={"x-api-key": key})).status == 200

    # the key is never shown again: lists have prefixes only
    status, listed = await call(gw, "GET", f"{A}/partners/{partner.id}/keys")
    assert status == 200 and len(listed["keys"]) == 2
    assert key not in str(listed)
    stored = await pool.fetchval(
        "SELECT key_hash FROM api_keys WHERE id = $1", issued["apiKey"]["id"]
    )
    assert stored == apikeys.digest(key)
    # a leaked key (or its prefix) leads to its record
    for prefix in (key, key[:12]):
        status, found = await call(gw, "GET", f"{A}/keys", params={"prefix": prefix})
        assert issued["apiKey"]["id"] in [k["id"] for k in found["keys"]]
    status, _ = await call(gw, "GET", f"{A}/keys", params={"prefix": "ev"})
    assert status == 400

    # rotation: both keys work during the overlap
    old_id = issued["apiKey"]["id"]
    status, rotated = await call(gw, "POST", f"{A}/keys/{old_id}/rotate", {"overlapSeconds": 3600})
    assert status == 201
    assert rotated["previous"]["state"] == "rotating"
    assert rotated["previous"]["replacedBy"] == rotated["apiKey"]["id"]
    new_key = rotated["key"]
    for k in (key, new_key):
        assert (await gw.client.get("/api/v1/chargers", headers={"x-api-key": k})).status == 200
    status, body = await call(gw, "POST", f"{A}/keys/{old_id}/rotate", {})
    assert status == 409  # rotated already

    # rotation without overlap: the old key is out at once
    status, again = await call(
        gw, "POST", f"{A}/keys/{rotated['apiKey']['id']}/rotate", {"overlapSeconds": 0}
    )

    async def rotated_out() -> bool:
        resp = await gw.client.get("/api/v1/chargers", headers={"x-api-key": new_key})
        return resp.status == 401 and "rotated" in (await resp.json())["message"]

    await eventually(rotated_out)
    assert (
        await gw.client.get("/api/v1/chargers", headers={"x-api-key": again["key"]})
    ).status == 200

    for method, path, body in (
        ("POST", f"{A}/keys/key_0000000000000000/revoke", None),
        ("POST", f"{A}/keys/nonsense/rotate", {}),
        ("POST", f"{A}/partners/nobody-{partner.id}/keys", {}),
    ):
        status, err = await call(gw, method, path, body)
        assert status == 404, path
        assert_error_body(err, 404, "Not Found", path)
    status, _ = await call(gw, "POST", f"{A}/keys/{old_id}/rotate", {"overlapSeconds": -1})
    assert status == 400


async def test_chargers_register_assign_decommission(
    gw: Gateway,
    make_partner: MakePartner,
    pool: asyncpg.Pool,
    rds: redis.Redis,
    keys: Keys,
    uid: str,
) -> None:
    partner = await make_partner()
    await call(gw, "PATCH", f"{A}/partners/{partner.id}", {"chargerQuota": 1})
    cp, cp2 = f"ADM-{uid}-1", f"ADM-{uid}-2"
    status, body = await call(
        gw,
        "POST",
        f"{A}/chargers",
        {"chargerId": cp, "protocol": "ocpp2.0.1", "partnerId": partner.id},
    )
    assert status == 201
    assert len(body["password"]) >= 16 and body["charger"]["hasPassword"] is True
    assert body["charger"]["partnerId"] == partner.id and body["charger"]["assignedAt"]
    projection = await rds.hgetall(keys.charger(cp))
    assert projection[F.OWNER] == partner.id and projection[F.REGISTERED] == "1"
    assert projection[F.PASSWORD] and body["password"] not in projection[F.PASSWORD]

    status, body = await call(gw, "POST", f"{A}/chargers", {"chargerId": cp, "protocol": "ocpp1.6"})
    assert status == 409
    status, body = await call(
        gw, "POST", f"{A}/chargers", {"chargerId": cp2, "protocol": "ocpp1.6", "noPassword": True}
    )
    assert status == 201 and body["password"] is None and body["charger"]["partnerId"] is None
    # the quota of one is used up
    status, body = await call(gw, "PUT", f"{A}/chargers/{cp2}/partner", {"partnerId": partner.id})
    assert status == 409 and "quota" in body["message"]

    status, body = await call(gw, "DELETE", f"{A}/chargers/{cp}/partner")
    assert status == 200 and body["partnerId"] is None
    status, body = await call(gw, "PUT", f"{A}/chargers/{cp2}/partner", {"partnerId": partner.id})
    assert status == 200 and body["partnerId"] == partner.id
    assert (await rds.hget(keys.charger(cp2), F.OWNER)) == partner.id
    assert (await rds.hget(keys.charger(cp), F.OWNER)) == ""

    status, body = await call(gw, "DELETE", f"{A}/chargers/{cp2}")
    assert status == 200 and body["removedAt"]
    assert await rds.hget(keys.charger(cp2), F.REMOVED) == "1"
    assert await pool.fetchval("SELECT removed_at FROM chargers WHERE id = $1", cp2)
    resp = await gw.client.get(f"/api/v1/chargers/{cp2}/status", headers=partner.headers)
    assert (await resp.json())["status"] == "REMOVED"
    status, body = await call(gw, "DELETE", f"{A}/chargers/{cp2}")
    assert status == 409
    status, body = await call(gw, "PUT", f"{A}/chargers/{cp2}/partner", {"partnerId": partner.id})
    assert status == 409

    status, page = await call(gw, "GET", f"{A}/chargers", params={"partnerId": partner.id})
    assert [c["chargerId"] for c in page["chargers"]] == []
    status, page = await call(
        gw, "GET", f"{A}/chargers", params={"partnerId": partner.id, "includeRemoved": "true"}
    )
    assert [c["chargerId"] for c in page["chargers"]] == [cp2]
    status, body = await call(gw, "GET", f"{A}/chargers/{cp}")
    assert status == 200 and body["protocol"] == "ocpp2.0.1"
    for bad in (
        {"chargerId": "bad/id", "protocol": "ocpp1.6"},
        {"chargerId": "X", "protocol": "ocpp9"},
        {"chargerId": "X", "protocol": "ocpp1.6", "password": "short"},
        {"chargerId": "X", "protocol": "ocpp1.6", "password": "p" * 20, "noPassword": True},
    ):
        status, body = await call(gw, "POST", f"{A}/chargers", bad)
        assert status == 400, bad
    for method, path in (
        ("GET", f"{A}/chargers/NOPE-{uid}"),
        ("DELETE", f"{A}/chargers/NOPE-{uid}"),
    ):
        status, body = await call(gw, method, path)
        assert status == 404


async def test_an_admin_sees_which_chargers_are_connected_and_where(
    gw: Gateway, make_partner: MakePartner, rds: redis.Redis, keys: Keys, uid: str
) -> None:
    partner = await make_partner()
    up, gone_node, never = f"LIVE-{uid}-1", f"LIVE-{uid}-2", f"LIVE-{uid}-3"
    for cp in (up, gone_node, never):
        new = {"chargerId": cp, "protocol": "ocpp1.6", "partnerId": partner.id}
        assert (await call(gw, "POST", f"{A}/chargers", new))[0] == 201
    node = f"node-{uid}"
    await mark_alive(rds, keys, node, [gw])
    await rds.hset(
        keys.charger(up),
        mapping=online_state(node, **{F.FIRMWARE: "4.2.0", f"{F.RAW}1": "Charging"}),
    )
    # its node stopped renewing its keep-alive: the charger cannot be online there
    await rds.hset(keys.charger(gone_node), mapping=online_state(f"dead-{uid}"))

    status, body = await call(gw, "GET", f"{A}/chargers/{up}")
    assert status == 200
    assert body["online"] is True and body["node"] == node and body["status"] == "CHARGING"
    assert body["firmwareVersion"] == "4.2.0" and body["lastSeen"].endswith("Z")
    status, page = await call(gw, "GET", f"{A}/chargers", params={"partnerId": partner.id})
    listed = {c["chargerId"]: c for c in page["chargers"]}
    assert {**listed[up], "reports": body["reports"]} == body  # the list leaves reports out
    assert listed[gone_node]["online"] is False and listed[gone_node]["node"] is None
    assert listed[gone_node]["lastSeen"] is not None
    assert {k: listed[never][k] for k in ("online", "status", "node", "lastSeen")} == {
        "online": False,
        "status": "UNKNOWN",
        "node": None,
        "lastSeen": None,
    }


async def test_a_charger_s_password_is_replaced_generated_or_removed(
    gw: Gateway, pool: asyncpg.Pool, rds: redis.Redis, keys: Keys, uid: str
) -> None:
    cp = f"PW-{uid}"
    _, registered = await call(
        gw, "POST", f"{A}/chargers", {"chargerId": cp, "protocol": "ocpp1.6"}
    )
    first_hash = await rds.hget(keys.charger(cp), F.PASSWORD)
    path = f"{A}/chargers/{cp}/password"

    status, body = await call(gw, "PUT", path, {})
    assert status == 200 and body["charger"]["hasPassword"] is True
    generated = body["password"]
    assert len(generated) >= 16 and generated != registered["password"]
    second_hash = await rds.hget(keys.charger(cp), F.PASSWORD)
    assert second_hash and second_hash != first_hash and generated not in second_hash
    assert (
        await pool.fetchval("SELECT password_hash FROM chargers WHERE id = $1", cp) == second_hash
    )

    status, body = await call(gw, "PUT", path, {"password": "chosen-password-0042"})
    assert status == 200 and body["password"] is None
    assert await rds.hget(keys.charger(cp), F.PASSWORD) not in ("", second_hash)
    status, body = await call(gw, "PUT", path, {"noPassword": True})
    assert status == 200 and body["charger"]["hasPassword"] is False
    assert await rds.hget(keys.charger(cp), F.PASSWORD) == ""

    _, audit = await call(gw, "GET", f"{A}/audit", params={"target": cp})
    changes = [e for e in audit["entries"] if e["action"] == "charger.password"]
    assert [e["details"] for e in changes] == [
        {"password": False},
        {"password": True},
        {"password": True},
    ]
    assert all(e["actor"] == "admin:alice" for e in changes)
    assert generated not in str(audit) and second_hash not in str(audit)

    before = await rds.hget(keys.charger(cp), F.PASSWORD)
    for bad in ({"password": "short"}, {"password": "p" * 20, "noPassword": True}):
        status, body = await call(gw, "PUT", path, bad)
        assert status == 400, bad
    status, _ = await call(gw, "PUT", f"{A}/chargers/NOPE-{uid}/password", {})
    assert status == 404
    await call(gw, "DELETE", f"{A}/chargers/{cp}")
    status, body = await call(gw, "PUT", path, {})
    assert status == 409 and "decommissioned" in body["message"]
    assert await rds.hget(keys.charger(cp), F.PASSWORD) == before


async def test_audit_log_lists_admin_actions_and_partner_commands(
    gw: Gateway, make_partner: MakePartner, charger: MakeCharger, uid: str
) -> None:
    partner = await make_partner()
    cp = await charger(partner)
    await call(gw, "POST", f"{A}/partners/{partner.id}/suspend", headers=admin_headers("bob"))
    await call(gw, "POST", f"{A}/partners/{partner.id}/reactivate", headers=admin_headers("bob"))
    await gw.client.post(
        f"/api/v1/chargers/{cp}/control", json={"action": "on"}, headers=partner.headers
    )

    status, body = await call(gw, "GET", f"{A}/audit", params={"actor": "admin:bob"})
    assert status == 200
    mine = [e for e in body["entries"] if e["target"] == partner.id]
    assert [e["action"] for e in mine] == ["partner.reactivate", "partner.suspend"]  # newest first

    status, body = await call(gw, "GET", f"{A}/audit", params={"target": cp, "action": "command."})
    [entry] = body["entries"]
    assert entry["actor"] == f"partner:{partner.id}" and entry["action"] == "command.on"
    assert entry["details"]["outcome"] == "EVSE_OFFLINE" and entry["details"]["mode"] == "sync"

    status, first = await call(gw, "GET", f"{A}/audit", params={"limit": "1", "target": partner.id})
    assert len(first["entries"]) == 1 and first["nextCursor"]
    status, second = await call(
        gw,
        "GET",
        f"{A}/audit",
        params={"limit": "1", "target": partner.id, "cursor": first["nextCursor"]},
    )
    assert second["entries"][0]["at"] <= first["entries"][0]["at"]
    assert second["entries"] != first["entries"]


async def test_admin_request_errors_have_the_standard_body(gw: Gateway) -> None:
    path = f"{A}/partners"
    resp = await gw.client.post(
        path, data=b"name=x", headers={**admin_headers(), "Content-Type": "text/plain"}
    )
    assert resp.status == 415
    assert_error_body(await resp.json(), 415, "Unsupported Media Type", path)
    resp = await gw.client.post(
        path,
        data=b'{"name": "' + b"x" * 300_000 + b'"}',
        headers={**admin_headers(), "Content-Type": "application/json"},
    )
    assert resp.status == 413
    resp = await gw.client.put(path, headers=admin_headers())
    assert resp.status == 405 and "POST" in resp.headers["Allow"]
    assert_error_body(await resp.json(), 405, "Method Not Allowed", path)
