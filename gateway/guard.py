"""What stands before every route, as its declaration says: for partner routes the API key,
then the rate limit; for admin routes the admin token, or an operator's console session (its
cookie, and for a change its CSRF token); public routes (health, docs, metrics) pass."""

from __future__ import annotations

import logging
import re

from aiohttp import web

from gateway import sessions
from gateway.api import Endpoint, declaration_of
from gateway.auth import presented_key, same_secret
from gateway.errors import ApiError
from gateway.observe import RATE_LIMITED
from gateway.security import over_tls, source_address
from gateway.state import (
    ADMIN_ACTOR,
    AUTH,
    LIMITER,
    PARTNER,
    PREFETCHED,
    RATE,
    SESSIONS,
    SETTINGS,
    SIGNED_IN,
    THROTTLE,
)
from shared import apikeys
from shared.redis_client import UNAVAILABLE

log = logging.getLogger(__name__)

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="evcs-admin"'}
_SANE_ACTOR = re.compile(r"[A-Za-z0-9._@+-]{1,64}")
# Methods that change nothing: a session needs no CSRF token for them.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def _partner(request: web.Request, prefetch: str | None) -> None:
    """The key, then the rate limit; with the limit, in the same round trip, the hash the
    route reads first (`prefetch`), kept for the handler only if the request is allowed."""
    app = request.app
    record = await app[AUTH].authenticate(request, source_address(request))
    request[PARTNER] = record
    try:
        decision, fields = await app[LIMITER].hit_and_read(record, prefetch)
    except UNAVAILABLE:
        if app[SETTINGS].rate_limit_fail_open:
            log.warning("rate limiter unavailable; serving unmetered (fail open)")
            return
        raise ApiError(
            503, "rate limiting is unavailable; retry later", headers={"Retry-After": "1"}
        ) from None
    request[RATE] = decision
    if not decision.allowed:
        RATE_LIMITED.labels(record.partner_id).inc()
        raise ApiError(
            429,
            f"rate limit exceeded; retry in {decision.reset} s",
            headers={"Retry-After": str(decision.reset)},
        )
    if prefetch is not None and fields is not None:
        request[PREFETCHED] = (prefetch, fields)


def prefetched(request: web.Request, key: str) -> dict[str, str] | None:
    """The hash at `key` if the guard read it for this request, else None (read it yourself)."""
    found = request.get(PREFETCHED)
    return found[1] if found is not None and found[0] == key else None


async def _admin(request: web.Request) -> None:
    presented = presented_key(request)
    if presented is None:
        session_id = request.cookies.get(sessions.COOKIE)
        if session_id:
            await _admin_session(request, session_id)
            return
        raise ApiError(
            401, "the admin token is required (Authorization: Bearer)", headers=_CHALLENGE
        )
    token = request.app[SETTINGS].admin_token
    address = source_address(request)
    if apikeys.well_formed(presented):
        # a partner's valid key is recognised and refused; a dead one is just invalid (401)
        await request.app[AUTH].authenticate(request, address)
        raise ApiError(403, "a partner API key cannot use the admin API")
    if token is None:
        raise ApiError(403, "the admin API is disabled: no admin token is configured")
    if request.headers.get("x-api-key"):
        # one documented place for the token: it is compared only there
        raise ApiError(
            401, "the admin token goes in Authorization: Bearer, not x-api-key", headers=_CHALLENGE
        )
    throttle = request.app[THROTTLE]
    await throttle.check(address)  # no guessing the token from an address that kept failing
    if same_secret(presented, token.get_secret_value()):
        actor = request.headers.get("X-Actor", "")
        request[ADMIN_ACTOR] = f"admin:{actor}" if _SANE_ACTOR.fullmatch(actor) else "admin"
        return
    await throttle.failed(address)
    raise ApiError(401, "invalid admin token", headers=_CHALLENGE)


def _secure(request: web.Request) -> bool:
    return over_tls(request, request.app[SETTINGS].trust_forwarded_proto)


async def _admin_session(request: web.Request, session_id: str) -> None:
    """A console session's cookie instead of the token: the session's actor acts (X-Actor is
    not asked), and a call that changes anything must carry the session's CSRF token, which a
    page of another site cannot know. (No throttle: a 256-bit session id is not guessed.)"""
    token = request.app[SETTINGS].admin_token
    if token is None:
        raise ApiError(403, "the admin API is disabled: no admin token is configured")
    session = await request.app[SESSIONS].find(session_id, token.get_secret_value())
    if session is None:
        raise ApiError(
            401,
            "the console session has ended: sign in again",
            headers={**_CHALLENGE, "Set-Cookie": sessions.expired_cookie(_secure(request))},
        )
    if request.method not in SAFE_METHODS and not same_secret(
        request.headers.get(sessions.CSRF_HEADER, ""), session.csrf_token
    ):
        raise ApiError(403, f"{sessions.CSRF_HEADER} is missing or not this session's")
    request[ADMIN_ACTOR] = session.actor
    request[SIGNED_IN] = sessions.SignedIn(session_id, session)


async def guard(request: web.Request) -> None:
    """What the matched route's declaration asks of the caller, before its handler runs."""
    match_info = request.match_info
    # Unmatched paths fall through to their 404/405 without a key: they reveal nothing.
    if match_info.http_exception is None:
        declared = declaration_of(request)
        access = declared.access
        if access == "partner":
            prefetch = declared.prefetch if isinstance(declared, Endpoint) else None
            await _partner(request, prefetch(request) if prefetch is not None else None)
        elif access == "admin":
            await _admin(request)


def add_rate_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Before any answer goes out: every answer to a known partner shows its quota."""
    decision = request.get(RATE)
    if decision is not None:
        response.headers.update(decision.headers())
