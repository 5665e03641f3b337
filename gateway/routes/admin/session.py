"""Operators' console sessions: sign in with the admin token, read the session (its CSRF
token again after a page reload), sign out."""

from __future__ import annotations

from aiohttp import web

from gateway import sessions
from gateway.api import Endpoint, Reply
from gateway.command_log import iso_epoch
from gateway.errors import ApiError
from gateway.jsonio import json_response
from gateway.routes.admin.common import actor
from gateway.routes.paths import ADMIN
from gateway.schemas import ISO_EXAMPLE
from gateway.security import over_tls
from gateway.session_schemas import (
    ConsoleSessionCreate,
    ConsoleSessionEndedJson,
    ConsoleSessionJson,
)
from gateway.state import POOL, SESSIONS, SETTINGS, SIGNED_IN
from shared import registry

SESSION_PATH = f"{ADMIN}/session"

_SESSION_EXAMPLE: ConsoleSessionJson = {
    "actor": "console:alice",
    "csrfToken": "b3JmQ2Nzc2F0ZXN0LXRva2VuLWV4YW1wbGUtMDEyMw",
    "createdAt": ISO_EXAMPLE,
    "expiresAt": "2026-03-01T18:15:30.000Z",
}


def _json(session: sessions.Session) -> ConsoleSessionJson:
    return {
        "actor": session.actor,
        "csrfToken": session.csrf_token,
        "createdAt": iso_epoch(session.created_at),
        "expiresAt": iso_epoch(session.expires_at),
    }


def _secure(request: web.Request) -> bool:
    return over_tls(request, request.app[SETTINGS].trust_forwarded_proto)


async def create_session(request: web.Request) -> web.Response:
    body = await CREATE_SESSION.body_of(request)
    if SIGNED_IN in request:
        # a session cannot prolong itself: signing in takes the token
        raise ApiError(403, "sign in with the admin token (Authorization: Bearer), not a session")
    token = request.app[SETTINGS].admin_token
    assert token is not None  # the guard let the request through with it
    who = f"console:{body.actor}" if body.actor else "console"
    store = request.app[SESSIONS]
    session_id, session = await store.create(who, token.get_secret_value())
    # by the session's actor: filtering the log by it shows the sign-in and all that followed
    await registry.audit(
        request.app[POOL],
        who,
        "console.sign_in",
        None,
        {"signedInWith": actor(request), "expiresAt": iso_epoch(session.expires_at)},
    )
    response = json_response(_json(session), status=201)
    response.headers["Set-Cookie"] = sessions.cookie(session_id, store.ttl, _secure(request))
    return response


CREATE_SESSION = Endpoint(
    "POST",
    SESSION_PATH,
    create_session,
    "adminCreateSession",
    "Sign in to the operator console: the admin token for a session cookie",
    "admin: console session",
    access="admin",
    description="Takes the admin token (`Authorization: Bearer`), once; answers with a"
    " `Set-Cookie` of an opaque session id (HttpOnly, SameSite=Strict, Path=/, Secure over"
    " https) that the admin API accepts instead of the token until `expiresAt`"
    " (`EVCS_CONSOLE_SESSION_SECONDS`, 8 h by default) or sign-out. With the cookie, every"
    " call but GET and HEAD must send the answer's `csrfToken` as `X-CSRF-Token`; what the"
    " session does is audited as `console:<actor>`. Redis keeps only a hash of the session"
    " id, never the token; a new admin token ends every session. Signing in is audited"
    " (`console.sign_in`).",
    body=ConsoleSessionCreate,
    body_example={"actor": "alice"},
    replies={
        201: Reply(
            "Signed in: the session cookie is set",
            ConsoleSessionJson,
            _SESSION_EXAMPLE,
            ("Set-Cookie",),
        )
    },
    errors={403: "Made with a session's cookie: signing in takes the admin token"},
)


def _cookie_session_id(request: web.Request) -> str | None:
    if SIGNED_IN in request:
        return request[SIGNED_IN].session_id
    cookie = request.cookies.get(sessions.COOKIE)
    return str(cookie) if cookie else None


async def get_session(request: web.Request) -> web.Response:
    signed_in = request.get(SIGNED_IN)
    session = signed_in.session if signed_in is not None else None
    session_id = _cookie_session_id(request)
    if session is None and session_id is not None:
        # authenticated with the token, and a session cookie came along: that session
        token = request.app[SETTINGS].admin_token
        assert token is not None
        session = await request.app[SESSIONS].find(session_id, token.get_secret_value())
    if session is None:
        raise ApiError(404, "no console session: none in the cookie, or it has ended")
    return json_response(_json(session))


GET_SESSION = Endpoint(
    "GET",
    SESSION_PATH,
    get_session,
    "adminGetSession",
    "The console session of the request's cookie, with its CSRF token",
    "admin: console session",
    access="admin",
    description="For a page loaded anew: whether it is signed in, as whom, until when, and"
    " the CSRF token its changes must send. A browser on another site can neither send the"
    " cookie (SameSite=Strict) nor read the answer (no CORS with credentials).",
    replies={200: Reply("The session", ConsoleSessionJson, _SESSION_EXAMPLE)},
    errors={404: "No session cookie came, or its session has ended"},
)


async def end_session(request: web.Request) -> web.Response:
    session_id = _cookie_session_id(request)
    ended = await request.app[SESSIONS].end(session_id) if session_id is not None else False
    if ended:
        await registry.audit(request.app[POOL], actor(request), "console.sign_out", None)
    answer: ConsoleSessionEndedJson = {"ended": ended}
    response = json_response(answer)
    response.headers["Set-Cookie"] = sessions.expired_cookie(_secure(request))
    return response


END_SESSION = Endpoint(
    "DELETE",
    SESSION_PATH,
    end_session,
    "adminEndSession",
    "Sign out: end the console session of the request's cookie",
    "admin: console session",
    access="admin",
    description="The session is deleted at once, for every gateway, and its open event"
    " streams end by their next keep-alive; the answer clears the cookie. Audited"
    " (`console.sign_out`). With the token and no cookie there is nothing to end.",
    replies={
        200: Reply(
            "Signed out (the cookie is cleared)",
            ConsoleSessionEndedJson,
            {"ended": True},
            ("Set-Cookie",),
        )
    },
)
