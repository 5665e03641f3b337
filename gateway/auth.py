"""Partner API keys: from the request header to a KeyRecord, through a small in-process cache."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiohttp import web

from gateway.auth_throttle import AuthThrottle
from gateway.errors import ApiError
from shared import apikeys
from shared.registry import KeyRecord

Lookup = Callable[[bytes], Awaitable[KeyRecord | None]]

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="evcs"'}


def same_secret(presented: str, expected: str) -> bool:
    """A comparison of secrets whose time says nothing about them."""
    # digests first: equal lengths, so only equality is compared
    return hmac.compare_digest(
        hashlib.sha256(presented.encode()).digest(), hashlib.sha256(expected.encode()).digest()
    )


def presented_key(request: web.Request) -> str | None:
    """The key from `x-api-key`, else from `Authorization: Bearer`."""
    key = request.headers.get("x-api-key")
    if key:
        return key.strip()
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return None


class _TtlCache:
    """Digest -> lookup result until a deadline; oldest entries go first when full."""

    def __init__(self, ttl: float, max_entries: int) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[bytes, tuple[float, KeyRecord | None]] = {}

    def get(self, digest: bytes) -> tuple[bool, KeyRecord | None]:
        entry = self._entries.get(digest)
        if entry is None:
            return False, None
        if entry[0] <= time.monotonic():
            del self._entries[digest]
            return False, None
        return True, entry[1]

    def put(self, digest: bytes, record: KeyRecord | None) -> None:
        if self.ttl <= 0:
            return
        self._entries.pop(digest, None)
        while len(self._entries) >= self.max_entries:
            # dicts keep insertion order, so the first entry is the oldest
            del self._entries[next(iter(self._entries))]
        self._entries[digest] = (time.monotonic() + self.ttl, record)

    def drop(self, partner_id: str | None) -> None:
        """Forget the partner's entries, or every entry when partner_id is None."""
        if partner_id is None:
            self._entries.clear()
            return
        stale = [d for d, (_, r) in self._entries.items() if r and r.partner_id == partner_id]
        for digest in stale:
            del self._entries[digest]


class Authenticator:
    """Resolves API keys through a short cache; `invalidate` (called when the registry announces
    a change) makes revocations and suspensions take effect at once, the TTL bounds the rest."""

    def __init__(
        self,
        lookup: Lookup,
        ttl: float,
        max_entries: int = 10_000,
        throttle: AuthThrottle | None = None,
    ) -> None:
        self._lookup = lookup
        self._throttle = throttle
        # Separate caches so a flood of made-up keys cannot evict the real ones.
        self._known = _TtlCache(ttl, max_entries)
        self._unknown = _TtlCache(ttl, max_entries)
        self._inflight: dict[bytes, asyncio.Task[KeyRecord | None]] = {}
        # A lookup that began before an invalidation may have read the old row: not cached.
        self._generation = 0

    def invalidate(self, partner_id: str | None = None) -> None:
        """Forget what is cached about a partner's keys (or about every key)."""
        self._generation += 1
        self._known.drop(partner_id)
        if partner_id is None:
            self._unknown.drop(None)
        self._inflight.clear()

    async def _fetch(self, digest: bytes) -> KeyRecord | None:
        generation = self._generation
        record = await self._lookup(digest)
        if generation == self._generation:
            (self._known if record is not None else self._unknown).put(digest, record)
        return record

    def _settled(self, digest: bytes, task: asyncio.Task[KeyRecord | None]) -> None:
        if self._inflight.get(digest) is task:
            del self._inflight[digest]
        if not task.cancelled():
            task.exception()  # retrieved, so a failure nobody awaited is not reported as lost

    async def _record(self, digest: bytes) -> KeyRecord | None:
        for cache in (self._known, self._unknown):
            hit, record = cache.get(digest)
            if hit:
                return record
        task = self._inflight.get(digest)
        if task is None:
            # One database lookup per key however many requests arrive at once; a task of its
            # own so that one impatient client going away does not fail the others.
            task = asyncio.get_running_loop().create_task(self._fetch(digest))
            self._inflight[digest] = task
            task.add_done_callback(lambda t: self._settled(digest, t))
        return await asyncio.shield(task)

    async def authenticate(self, request: web.Request, address: str) -> KeyRecord:
        """The caller's key record, or 401/403 (429 for an address that failed too often).
        The key itself never leaves this function."""
        key = presented_key(request)
        if key is None:
            raise ApiError(
                401,
                "an API key is required (x-api-key or Authorization: Bearer)",
                headers=_CHALLENGE,
            )
        try:
            return await self._resolve(key, address)
        except ApiError as exc:
            if exc.status == 401 and self._throttle is not None:
                await self._throttle.failed(address)
            raise

    async def _resolve(self, key: str, address: str) -> KeyRecord:
        # A key this gateway knows is the key it was issued as: its shape and checksum need no
        # second look (on every request they cost more than the hash).
        digest = apikeys.digest(key) if len(key) == apikeys.KEY_LEN else b""
        known, record = self._known.get(digest)
        if not known:
            if not apikeys.well_formed(key):
                raise ApiError(401, "invalid API key", headers=_CHALLENGE)
            if self._throttle is not None:
                await self._throttle.check(address)
            record = await self._record(digest)
        if record is None:
            raise ApiError(401, "invalid API key", headers=_CHALLENGE)
        if record.revoked:
            raise ApiError(401, "API key revoked", headers=_CHALLENGE)
        # checked on every request: a cached record may outlive the key's expiry
        if record.expires_at is not None and record.expires_at <= datetime.now(UTC):
            if record.replaced:
                raise ApiError(
                    401, "API key was rotated out; use its successor", headers=_CHALLENGE
                )
            raise ApiError(401, "API key expired", headers=_CHALLENGE)
        if record.partner_status != "active":
            raise ApiError(403, "partner account is suspended")
        return record
