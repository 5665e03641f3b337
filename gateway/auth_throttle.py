"""Failed authentications per source address, counted across every gateway in Redis.

Keys that pass the public checksum are cheap to forge and each costs a database lookup; an
address that fails more than its limit in a minute gets 429 for any credential that would need
one (or the admin token), until the minute is over. Keys a gateway already knows still pass, so
a partner sharing an address with a prober keeps working while its key is cached.
"""

from __future__ import annotations

import logging

import redis.asyncio as redis
from prometheus_client import Counter

from gateway.errors import ApiError
from shared.redis_client import UNAVAILABLE, script_once
from shared.redis_keys import Keys

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60

FAILURES = Counter(
    "evcs_gateway_auth_failures_total", "Requests refused with 401 for a bad credential"
)
THROTTLED = Counter(
    "evcs_gateway_auth_throttled_total",
    "Requests refused with 429 because their address failed authentication too often",
)

# INCR, and start the window with the first failure: the count lapses a minute after it.
_COUNT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""
_STATE = """
local n = redis.call('GET', KEYS[1])
if not n then return {0, 0} end
return {tonumber(n), redis.call('TTL', KEYS[1])}
"""


class AuthThrottle:
    def __init__(self, r: redis.Redis, keys: Keys, per_minute: int) -> None:
        self.per_minute = per_minute
        self._redis = r
        self._keys = keys
        self._count = r.register_script(_COUNT)
        self._state = r.register_script(_STATE)

    async def check(self, address: str) -> None:
        """Raise 429 if the address is over its failures; pass when Redis cannot tell."""
        try:
            failures, ttl = await script_once(
                self._redis, self._state, [self._keys.auth_failures(address)], []
            )
        except UNAVAILABLE:
            return  # a lookup without the throttle beats refusing every partner
        if int(failures) >= self.per_minute:
            THROTTLED.inc()
            wait = max(1, int(ttl))
            raise ApiError(
                429,
                f"too many failed authentications from this address; retry in {wait} s",
                headers={"Retry-After": str(wait)},
            )

    async def failed(self, address: str) -> None:
        """Count a refused credential; the one that crosses the limit is a security event."""
        FAILURES.inc()
        try:
            n = int(
                await script_once(
                    self._redis, self._count, [self._keys.auth_failures(address)], [WINDOW_SECONDS]
                )
            )
        except UNAVAILABLE:
            return
        if n == self.per_minute:
            log.warning(
                "security event: repeated failed authentication; address throttled",
                extra={
                    "event": "auth_failures",
                    "address": address,
                    "failures": n,
                    "window_s": WINDOW_SECONDS,
                },
            )
