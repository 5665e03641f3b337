"""How many event streams each partner holds open, across every gateway.

Each open stream is a member of the partner's sorted set in Redis, scored by when its lease
lapses. The gateway renews the leases of its own streams while they run, so the streams of a
gateway that died stop counting within a lease; acquiring a slot first drops lapsed leases.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
from collections import defaultdict

import redis.asyncio as redis

from shared.process import cancel
from shared.redis_client import UNAVAILABLE, script_once
from shared.redis_keys import Keys

log = logging.getLogger(__name__)

LEASE_SECONDS = 60
RENEW_SECONDS = 20

# Redis's own clock, so gateways with skewed clocks agree on what has lapsed.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""
_RENEW = """
local t = redis.call('TIME')
local until_ = tonumber(t[1]) + tonumber(ARGV[1])
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'XX', until_, ARGV[i]) end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
"""


class StreamSlots:
    """Leases on a partner's concurrent event streams."""

    def __init__(self, r: redis.Redis, keys: Keys, per_partner: int) -> None:
        self.per_partner = per_partner
        self._redis = r
        self._keys = keys
        self._acquire = r.register_script(_ACQUIRE)
        self._renew = r.register_script(_RENEW)
        self._prefix = secrets.token_hex(6)
        self._ids = itertools.count(1)
        self._held: dict[str, set[str]] = defaultdict(set)
        self._renewer: asyncio.Task[None] | None = None

    async def acquire(self, partner_id: str) -> str | None:
        """A lease on one more stream of the partner, or None when it holds all it may."""
        lease = f"{self._prefix}-{next(self._ids)}"
        key = self._keys.open_streams(partner_id)
        args = [self.per_partner, LEASE_SECONDS, lease]
        if not await script_once(self._redis, self._acquire, [key], args):
            return None
        self._held[partner_id].add(lease)
        if self._renewer is None:
            self._renewer = asyncio.get_running_loop().create_task(self._renew_forever())
        return lease

    async def release(self, partner_id: str, lease: str) -> None:
        held = self._held.get(partner_id)
        if held is not None:
            held.discard(lease)
            if not held:
                del self._held[partner_id]
        try:
            await self._redis.zrem(self._keys.open_streams(partner_id), lease)
        except UNAVAILABLE:
            pass  # the lease lapses by itself

    async def stop(self) -> None:
        if self._renewer is not None:
            await cancel(self._renewer)
            self._renewer = None

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(RENEW_SECONDS)
            for partner_id, leases in list(self._held.items()):
                try:
                    await script_once(
                        self._redis,
                        self._renew,
                        [self._keys.open_streams(partner_id)],
                        [LEASE_SECONDS, *leases],
                    )
                except UNAVAILABLE:
                    log.warning("event stream leases not renewed: Redis unavailable")
                    break
