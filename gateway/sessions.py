"""Operators' console sessions: the admin token, presented once, exchanged for an opaque
session id that the browser keeps in an HttpOnly, SameSite=Strict cookie.

Redis keeps each session under the SHA-256 of its id, with the actor it acts as and a binding
to the admin token it was made with: an HMAC keyed by the token, never the token. So a copy of
Redis holds nothing that signs anyone in, and a new EVCS_ADMIN_TOKEN ends every session made
with the old one. The CSRF token is derived from the session id (an HMAC too): it needs no
storage and only whoever holds the cookie's value could compute it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

import orjson
import redis.asyncio as redis

from gateway.auth import same_secret
from shared.redis_keys import Keys

COOKIE = "evcs_session"
CSRF_HEADER = "X-CSRF-Token"
# What a session id looks like (secrets.token_urlsafe(32)); anything else is not looked up.
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{43}")


@dataclass(frozen=True, slots=True)
class Session:
    actor: str  # for the audit log: console:<name>
    csrf_token: str
    created_at: float  # epoch seconds
    expires_at: float


@dataclass(frozen=True, slots=True)
class SignedIn:
    """What a request made through a console session carries."""

    session_id: str
    session: Session


def cookie(session_id: str, max_age: int, secure: bool) -> str:
    """The Set-Cookie value: script cannot read it (HttpOnly), no other site's page can make
    the browser send it (SameSite=Strict), over https it never travels in clear (Secure)."""
    return f"{COOKIE}={session_id}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict" + (
        "; Secure" if secure else ""
    )


def expired_cookie(secure: bool) -> str:
    """The Set-Cookie value that makes the browser forget the session."""
    return cookie("", 0, secure)


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def _mac(key: str, message: str) -> str:
    mac = hmac.new(key.encode(), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def csrf_token_of(session_id: str) -> str:
    return _mac(session_id, "csrf")


class Sessions:
    """Console sessions in Redis, each for `ttl` seconds from sign-in."""

    def __init__(self, r: redis.Redis, keys: Keys, ttl: int) -> None:
        self._redis = r
        self._keys = keys
        self.ttl = ttl

    async def create(self, actor: str, admin_token: str) -> tuple[str, Session]:
        """A new session (its id goes to the cookie, and nowhere else)."""
        session_id = secrets.token_urlsafe(32)
        digest = _digest(session_id)
        now = time.time()
        record = {
            "actor": actor,
            "binding": _mac(admin_token, digest),
            "createdAt": now,
            "expiresAt": now + self.ttl,
        }
        await self._redis.set(self._keys.console_session(digest), orjson.dumps(record), ex=self.ttl)
        return session_id, Session(actor, csrf_token_of(session_id), now, now + self.ttl)

    async def find(self, session_id: str, admin_token: str) -> Session | None:
        """The session, if it exists, has not expired and was made with this admin token."""
        if not _SESSION_ID.fullmatch(session_id):
            return None
        digest = _digest(session_id)
        raw = await self._redis.get(self._keys.console_session(digest))
        if raw is None:
            return None
        record = orjson.loads(raw)
        if not same_secret(record["binding"], _mac(admin_token, digest)):
            return None  # made with an admin token that is no longer the gateway's
        if record["expiresAt"] <= time.time():
            return None
        return Session(
            record["actor"], csrf_token_of(session_id), record["createdAt"], record["expiresAt"]
        )

    async def alive(self, session_id: str) -> bool:
        """Whether the session still exists (for streams that outlive a sign-out)."""
        if not _SESSION_ID.fullmatch(session_id):
            return False
        return bool(await self._redis.exists(self._keys.console_session(_digest(session_id))))

    async def end(self, session_id: str) -> bool:
        """Sign out: True if there was such a session."""
        if not _SESSION_ID.fullmatch(session_id):
            return False
        return bool(await self._redis.delete(self._keys.console_session(_digest(session_id))))
