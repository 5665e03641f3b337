"""Console sessions: the admin token, once, for an HttpOnly SameSite=Strict cookie that the
admin API takes instead of the token; every change made with it carries the session's CSRF
token and is audited as the session's actor; Redis keeps neither the token nor the session id;
signing out (or a new admin token) ends it on every gateway."""

from __future__ import annotations

import hashlib
import time
from http.cookies import SimpleCookie
from typing import Any

import asyncpg
import orjson
import pytest
import redis.asyncio as redis
from pydantic import SecretStr

from gateway import sessions
from gateway.routes import events
from shared.redis_keys import Keys
from tests.gateway.support import (
    ADMIN_TOKEN,
    Gateway,
    MakeGateway,
    Partner,
    SseReader,
    admin_headers,
    assert_error_body,
)

SESSION = "/api/v1/admin/session"
PARTNERS = "/api/v1/admin/partners"


class SignedIn:
    """A browser's view of a session: its cookie and the CSRF token the page holds."""

    def __init__(self, session_id: str, csrf: str) -> None:
        self.session_id = session_id
        self.csrf = csrf

    def headers(self, change: bool = False) -> dict[str, str]:
        headers = {"Cookie": f"{sessions.COOKIE}={self.session_id}"}
        if change:
            headers[sessions.CSRF_HEADER] = self.csrf
        return headers


def _cookie(set_cookie: str) -> Any:
    jar: SimpleCookie = SimpleCookie()
    jar.load(set_cookie)
    return jar[sessions.COOKIE]


async def sign_in(gw: Gateway, actor: str | None = "alice", **headers: str) -> SignedIn:
    resp = await gw.client.post(
        SESSION, json={"actor": actor} if actor else {}, headers={**admin_headers(), **headers}
    )
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    # the test client keeps cookies; each test says which one it sends, explicitly
    gw.client.session.cookie_jar.clear()
    return SignedIn(_cookie(resp.headers["Set-Cookie"]).value, body["csrfToken"])


async def test_signing_in_sets_an_http_only_strict_cookie_and_answers_the_csrf_token(
    gw: Gateway, make_gateway: MakeGateway
) -> None:
    resp = await gw.client.post(SESSION, json={"actor": "alice"}, headers=admin_headers())
    assert resp.status == 201
    body = await resp.json()
    cookie = _cookie(resp.headers["Set-Cookie"])
    assert len(cookie.value) == 43
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/"
    assert cookie["max-age"] == "28800" and not cookie["secure"]  # plain http here
    assert body["actor"] == "console:alice"
    assert body["csrfToken"] and body["csrfToken"] not in resp.headers["Set-Cookie"]
    assert body["expiresAt"] > body["createdAt"]
    # behind a TLS-terminating proxy the cookie never travels in clear
    behind_tls = await make_gateway(trust_forwarded_proto=True)
    resp = await behind_tls.client.post(
        SESSION, json={}, headers={**admin_headers(), "X-Forwarded-Proto": "https"}
    )
    assert _cookie(resp.headers["Set-Cookie"])["secure"]
    assert (await resp.json())["actor"] == "console"


async def test_signing_in_takes_the_admin_token(gw: Gateway, partner: Partner) -> None:
    for headers, status in (
        ({}, 401),
        ({"Authorization": "Bearer wrong"}, 401),
        (partner.headers, 403),
    ):
        resp = await gw.client.post(SESSION, json={"actor": "mallory"}, headers=headers)
        assert resp.status == status, headers
        assert "Set-Cookie" not in resp.headers
    signed_in = await sign_in(gw)
    # a session cannot prolong itself
    resp = await gw.client.post(SESSION, json={}, headers=signed_in.headers(change=True))
    assert resp.status == 403
    resp = await gw.client.post(SESSION, json={"actor": "no spaces"}, headers=admin_headers())
    assert resp.status == 400


async def test_the_cookie_opens_the_admin_api_and_changes_need_the_csrf_token(
    gw: Gateway, pool: asyncpg.Pool, uid: str
) -> None:
    signed_in = await sign_in(gw, "alice")
    resp = await gw.client.get(PARTNERS, headers=signed_in.headers())
    assert resp.status == 200  # a read needs no CSRF token
    new = {"id": f"cs-{uid}", "name": "Made in the console"}
    for wrong in ({}, {sessions.CSRF_HEADER: "x"}, {sessions.CSRF_HEADER: signed_in.csrf[:-1]}):
        resp = await gw.client.post(PARTNERS, json=new, headers={**signed_in.headers(), **wrong})
        assert resp.status == 403, wrong
        assert_error_body(await resp.json(), 403, "Forbidden", PARTNERS)
    assert await pool.fetchval("SELECT count(*) FROM partners WHERE id = $1", new["id"]) == 0
    # X-Actor cannot make a session someone else
    resp = await gw.client.post(
        PARTNERS, json=new, headers={**signed_in.headers(change=True), "X-Actor": "bob"}
    )
    assert resp.status == 201
    actor = await pool.fetchval(
        "SELECT actor FROM audit_log WHERE action = 'partner.create' AND target = $1", new["id"]
    )
    assert actor == "console:alice"
    # the cookie is no partner key
    resp = await gw.client.get("/api/v1/chargers", headers=signed_in.headers())
    assert resp.status == 401
    # the token still works beside it, and wins: no CSRF token is asked of a Bearer request
    resp = await gw.client.post(
        f"{PARTNERS}/{new['id']}/suspend", headers={**signed_in.headers(), **admin_headers("bob")}
    )
    assert resp.status == 200


async def test_redis_keeps_neither_the_token_nor_the_session_id(
    gw: Gateway, rds: redis.Redis, keys: Keys
) -> None:
    signed_in = await sign_in(gw)
    key = keys.console_session(hashlib.sha256(signed_in.session_id.encode()).hexdigest())
    stored = await rds.get(key)
    assert stored is not None
    for secret in (ADMIN_TOKEN, signed_in.session_id, signed_in.csrf):
        assert secret not in stored
    assert set(orjson.loads(stored)) == {"actor", "binding", "createdAt", "expiresAt"}
    assert 28_700 < await rds.ttl(key) <= 28_800  # Redis forgets it when it ends
    # a session past its end is over, even before Redis drops it
    record = orjson.loads(stored)
    await rds.set(key, orjson.dumps({**record, "expiresAt": time.time() - 1}), keepttl=True)
    resp = await gw.client.get(PARTNERS, headers=signed_in.headers())
    assert resp.status == 401


async def test_get_session_gives_a_reloaded_page_its_csrf_token(gw: Gateway) -> None:
    signed_in = await sign_in(gw, "alice")
    resp = await gw.client.get(SESSION, headers=signed_in.headers())
    assert resp.status == 200
    body = await resp.json()
    assert body["actor"] == "console:alice" and body["csrfToken"] == signed_in.csrf
    # with the token and the cookie: the cookie's session
    resp = await gw.client.get(SESSION, headers={**signed_in.headers(), **admin_headers()})
    assert (await resp.json())["csrfToken"] == signed_in.csrf
    resp = await gw.client.get(SESSION, headers=admin_headers())
    assert resp.status == 404  # the token alone has no session
    for junk in ("nope", "A" * 43):
        resp = await gw.client.get(SESSION, headers={"Cookie": f"{sessions.COOKIE}={junk}"})
        assert resp.status == 401
        assert _cookie(resp.headers["Set-Cookie"])["max-age"] == "0"  # the browser forgets it


async def test_signing_out_ends_the_session_on_every_gateway(
    gw: Gateway, make_gateway: MakeGateway, pool: asyncpg.Pool
) -> None:
    other = await make_gateway()
    signed_in = await sign_in(gw, "carol")
    assert (await other.client.get(PARTNERS, headers=signed_in.headers())).status == 200
    # no page of another site can sign you out: it has no CSRF token
    resp = await gw.client.delete(SESSION, headers=signed_in.headers())
    assert resp.status == 403
    resp = await gw.client.delete(SESSION, headers=signed_in.headers(change=True))
    assert resp.status == 200 and await resp.json() == {"ended": True}
    assert _cookie(resp.headers["Set-Cookie"])["max-age"] == "0"
    for g in (gw, other):
        resp = await g.client.get(PARTNERS, headers=signed_in.headers())
        assert resp.status == 401
        assert "sign in again" in (await resp.json())["message"]
    entries = await pool.fetch(
        "SELECT actor, action, details FROM audit_log WHERE action LIKE 'console.%'"
        " ORDER BY id DESC LIMIT 2"
    )
    assert [(e["actor"], e["action"]) for e in entries] == [
        ("console:carol", "console.sign_out"),
        ("console:carol", "console.sign_in"),
    ]
    assert entries[1]["details"]["signedInWith"] == "admin"  # the token, without X-Actor
    # with the token and no cookie there is nothing to end
    resp = await gw.client.delete(SESSION, headers=admin_headers())
    assert resp.status == 200 and await resp.json() == {"ended": False}


async def test_a_new_admin_token_ends_every_session(gw: Gateway, make_gateway: MakeGateway) -> None:
    signed_in = await sign_in(gw)
    rotated = await make_gateway(admin_token=SecretStr("another-admin-token-0123456789abcdef"))
    resp = await rotated.client.get(PARTNERS, headers=signed_in.headers())
    assert resp.status == 401
    closed = await make_gateway(admin_token=None)
    resp = await closed.client.get(PARTNERS, headers=signed_in.headers())
    assert resp.status == 403


async def test_a_stream_opened_with_a_session_ends_when_it_does(
    gw: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events, "HEARTBEAT_SECONDS", 0.2)
    signed_in = await sign_in(gw)
    resp = await gw.client.get("/api/v1/admin/events", headers=signed_in.headers())
    assert resp.status == 200
    sse = SseReader(resp)
    try:
        resp = await gw.client.delete(SESSION, headers=signed_in.headers(change=True))
        assert resp.status == 200
        with pytest.raises(EOFError):
            await sse.next(timeout=10)
    finally:
        sse.response.close()
