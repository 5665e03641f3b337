"""The authorization matrix: two partners, each trying every endpoint on the other's chargers,
commands and tokens. Every attempt looks exactly like one on an id that does not exist, no
command reaches a charger and no token changes."""

from __future__ import annotations

import time
from typing import Any

import asyncpg
import redis.asyncio as redis

from gateway import sessions
from gateway.routes import ADMIN_ENDPOINTS, ENDPOINTS
from gateway.routes.admin.session import SESSION_PATH
from shared import events as ev
from shared import registry
from shared.bus import CommandReply, CommandRequest, Outcome
from shared.redis_keys import Keys
from shared.settings import Settings
from tests.gateway.support import (
    Gateway,
    MakeCharger,
    MakePartner,
    Partner,
    SseReader,
    StartNode,
    admin_headers,
    mark_alive,
    online_state,
)

# (method, path template, body) for every partner endpoint that names a charger, command or
# token
TARGETED: dict[tuple[str, str], Any] = {
    ("GET", "/api/v1/chargers/{chargerId}/status"): None,
    ("PUT", "/api/v1/chargers/{chargerId}/status"): {"status": "INOPERATIVE"},
    ("POST", "/api/v1/chargers/{chargerId}/control"): {"action": "on"},
    ("POST", "/api/v1/chargers/{chargerId}/unlock"): {"connectorId": 1},
    ("POST", "/api/v1/chargers/{chargerId}/reset"): {"type": "Hard"},
    ("GET", "/api/v1/chargers/{chargerId}/meter-values"): None,
    ("GET", "/api/v1/chargers/{chargerId}/sessions"): None,
    ("GET", "/api/v1/commands/{commandId}"): None,
    ("GET", "/api/v1/tokens/{tokenId}"): None,
    ("PATCH", "/api/v1/tokens/{tokenId}"): {"status": "Blocked"},
    ("GET", "/api/v1/tokens/{tokenId}/sessions"): None,
}
# endpoints that take ids in the query or body, or list, or stream, or create what does not
# exist (a PUT of a token): checked one by one below
COLLECTIVE = {
    ("GET", "/api/v1/chargers"),
    ("GET", "/api/v1/chargers/batch/status"),
    ("POST", "/api/v1/chargers/batch/status"),
    ("POST", "/api/v1/chargers/batch/control"),
    ("GET", "/api/v1/events"),
    ("GET", "/api/v1/tokens"),
    ("PUT", "/api/v1/tokens/{tokenId}"),
}


# open to anyone: they name no charger and need no key
PUBLIC = {("GET", "/api/v1/health"), ("GET", "/api/v1/health/ready")}


def test_the_matrix_covers_every_endpoint() -> None:
    declared = {
        access: {(e.method, e.path) for e in ENDPOINTS if e.access == access}
        for access in ("public", "partner", "admin")
    }
    assert declared["partner"] == set(TARGETED) | COLLECTIVE
    assert declared["admin"] == {(e.method, e.path) for e in ADMIN_ENDPOINTS}  # each tried below
    assert declared["public"] == PUBLIC
    assert sum(len(routes) for routes in declared.values()) == len(ENDPOINTS)


def _shape(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in ("timestamp", "path")}


async def _attempts(
    gw: Gateway, who: Partner, cp: str, command_id: str, token: str
) -> list[dict[str, Any]]:
    out = []
    for (method, template), body in TARGETED.items():
        path = template.format(chargerId=cp, commandId=command_id, tokenId=token)
        for extra in ({}, {"Prefer": "respond-async", "Idempotency-Key": f"k-{cp}-{method}"}):
            resp = await gw.client.request(
                method, path, json=body, headers={**who.headers, **extra}
            )
            assert resp.status == 404, (method, path, resp.status)
            out.append(_shape(await resp.json()))
    return out


async def test_each_partner_on_the_others_chargers(
    gw: Gateway,
    make_partner: MakePartner,
    charger: MakeCharger,
    fake_node: StartNode,
    rds: redis.Redis,
    pool: asyncpg.Pool,
    keys: Keys,
    settings: Settings,
    uid: str,
) -> None:
    def accept(request: CommandRequest) -> CommandReply:
        return CommandReply(
            id=request.id, outcome=Outcome.ACCEPTED, response={"status": "Accepted"}
        )

    node = await fake_node(f"n-{uid}", accept)
    await mark_alive(rds, keys, node.node_id, [gw])
    a, b = await make_partner(), await make_partner()
    chargers = {
        a.id: await charger(a, **online_state(node.node_id)),
        b.id: await charger(b, **online_state(node.node_id)),
    }
    tokens = {}
    for p in (a, b):
        token = await registry.create_token(
            pool, rds, keys, f"TOK-{p.id}", status="Accepted", partner_id=p.id
        )
        tokens[p.id] = token.id
    commands = {}
    for p in (a, b):
        resp = await gw.client.post(
            f"/api/v1/chargers/{chargers[p.id]}/control", json={"action": "on"}, headers=p.headers
        )
        assert resp.status == 200
        commands[p.id] = (await resp.json())["commandId"]
    sent_before = len(node.received)

    for me, other in ((a, b), (b, a)):
        theirs = await _attempts(
            gw, me, chargers[other.id], commands[other.id], tokens[other.id].lower()
        )
        unknown = await _attempts(gw, me, f"NOPE-{uid}", "cmd_0000000000000000", f"NOPE-{uid}")
        assert theirs == unknown  # indistinguishable from ids that do not exist

        # a PUT cannot take another partner's token over: 404, as a read of one that does
        # not exist, and the token is as it was
        resp = await gw.client.put(
            f"/api/v1/tokens/{tokens[other.id]}", json={"status": "Blocked"}, headers=me.headers
        )
        assert resp.status == 404
        read_unknown = unknown[2 * list(TARGETED).index(("GET", "/api/v1/tokens/{tokenId}"))]
        assert _shape(await resp.json()) == read_unknown
        held = await registry.get_token(pool, tokens[other.id])
        assert (held.partner_id, held.status) == (other.id, "Accepted")
        resp = await gw.client.get("/api/v1/tokens", headers=me.headers)
        assert [t["id"] for t in (await resp.json())["tokens"]] == [tokens[me.id]]

        ids = [chargers[me.id], chargers[other.id]]
        resp = await gw.client.get(
            "/api/v1/chargers/batch/status", params={"ids": ",".join(ids)}, headers=me.headers
        )
        body = await resp.json()
        assert [c["chargerId"] for c in body["chargers"]] == [chargers[me.id]]
        assert body["notFound"] == [chargers[other.id]]
        resp = await gw.client.post(
            "/api/v1/chargers/batch/status", json={"ids": ids}, headers=me.headers
        )
        assert (await resp.json())["notFound"] == [chargers[other.id]]

        resp = await gw.client.post(
            "/api/v1/chargers/batch/control",
            json={"ids": [chargers[other.id], f"NOPE-{uid}"], "action": "off"},
            headers=me.headers,
        )
        results = (await resp.json())["results"]
        assert [(r["state"], r["commandId"]) for r in results] == [("NOT_FOUND", None)] * 2
        assert results[0]["message"] == results[1]["message"]

        for params in ({}, {"status": "UNKNOWN,AVAILABLE,CHARGING"}):
            resp = await gw.client.get("/api/v1/chargers", params=params, headers=me.headers)
            assert [c["chargerId"] for c in (await resp.json())["chargers"]] == [chargers[me.id]]

        for ep in ADMIN_ENDPOINTS:
            path = ep.path.format(
                chargerId=chargers[other.id],
                partnerId=other.id,
                keyId="key_0",
                tokenId=tokens[other.id],
                commandId=commands[other.id],
            )
            resp = await gw.client.request(ep.method, path, json={}, headers=me.headers)
            assert resp.status == 403, path

    assert len(node.received) == sent_before  # no attempt reached a charger

    # the live feed: only the partner's own chargers' events
    resp = await gw.client.get("/api/v1/events", headers=a.headers)
    sse = SseReader(resp)
    try:
        for cp in (chargers[b.id], chargers[a.id]):
            await rds.xadd(
                keys.stream_for(cp),
                ev.encode(
                    {
                        "type": ev.CONNECTION,
                        "cp": cp,
                        "at": time.time(),
                        "online": True,
                        "node": "n",
                    }
                ),
            )
        assert (await sse.next()).json()["chargerId"] == chargers[a.id]
    finally:
        resp.close()


async def test_every_admin_endpoint_wants_the_token_or_a_console_session(
    gw: Gateway, partner: Partner
) -> None:
    """No credentials, a forged or ended session, and a session's change without its CSRF
    token are all refused, on every admin endpoint, before any handler runs."""
    resp = await gw.client.post(SESSION_PATH, json={}, headers=admin_headers())
    csrf = (await resp.json())["csrfToken"]
    session_id = resp.cookies[sessions.COOKIE].value
    gw.client.session.cookie_jar.clear()
    resp = await gw.client.delete(
        SESSION_PATH,
        headers={"Cookie": f"{sessions.COOKIE}={session_id}", sessions.CSRF_HEADER: csrf},
    )
    assert resp.status == 200  # the session is over
    live = await gw.client.post(SESSION_PATH, json={}, headers=admin_headers())
    live_csrf = (await live.json())["csrfToken"]
    live_id = live.cookies[sessions.COOKIE].value
    gw.client.session.cookie_jar.clear()
    for ep in ADMIN_ENDPOINTS:
        path = ep.path.format(
            chargerId="CP-X", partnerId="acme", keyId="key_0", tokenId="T", commandId="cmd_0"
        )
        refusals: list[tuple[dict[str, str], int]] = [
            ({}, 401),
            ({"Cookie": f"{sessions.COOKIE}={'A' * 43}"}, 401),  # forged
            ({"Cookie": f"{sessions.COOKIE}={session_id}", sessions.CSRF_HEADER: csrf}, 401),
            (partner.headers, 403),
        ]
        if ep.method not in ("GET", "HEAD"):
            # a live session's change without its CSRF token, or with another session's
            for wrong in ({}, {sessions.CSRF_HEADER: csrf}):
                refusals.append(({"Cookie": f"{sessions.COOKIE}={live_id}", **wrong}, 403))
        for headers, status in refusals:
            resp = await gw.client.request(ep.method, path, json={}, headers=headers)
            assert resp.status == status, (ep.method, path, headers, resp.status)
    assert live_csrf != csrf
