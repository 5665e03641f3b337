"""Per-partner rate limits over a minute and an hour, shared by every gateway through Redis."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis.asyncio as redis
from redis.exceptions import NoScriptError

from shared.redis_batch import ScriptLoader
from shared.redis_keys import Keys
from shared.redis_lane import Call, HotPath, hot_path
from shared.registry import KeyRecord

# Sliding windows of 60 buckets each: field "m<second>" counts one second's requests and
# "h<minute>" one minute's, so a window never lets through twice its limit across a boundary
# the way fixed windows do, and the hash stays at most 122 fields whatever the limits.
# A request is counted in both windows or in neither: refused requests are not counted, so a
# client that keeps hammering still gets back in once its old requests age out. The clock is
# Redis's own, so gateways with skewed clocks still share one limit.
_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local N = 60
local windows = {
  {tag = 'm', step = 1, limit = tonumber(ARGV[1])},
  {tag = 'h', step = 60, limit = tonumber(ARGV[2])},
}
for _, w in ipairs(windows) do
  w.current = math.floor(now / w.step)
  w.buckets = {}
  w.count = 0
end
local flat = redis.call('HGETALL', KEYS[1])
local stale = {}
for i = 1, #flat, 2 do
  local field = flat[i]
  local w = windows[2]
  if string.sub(field, 1, 1) == 'm' then w = windows[1] end
  local bucket = tonumber(string.sub(field, 2))
  local n = tonumber(flat[i + 1])
  if bucket == nil or n == nil or bucket <= w.current - N then
    stale[#stale + 1] = field
  else
    w.buckets[#w.buckets + 1] = {bucket, n}
    w.count = w.count + n
  end
end
if #stale > 0 then
  redis.call('HDEL', KEYS[1], unpack(stale))
end
local allowed = 1
for _, w in ipairs(windows) do
  if w.count >= w.limit then allowed = 0 end
end
if allowed == 1 then
  for _, w in ipairs(windows) do
    redis.call('HINCRBY', KEYS[1], w.tag .. string.format('%d', w.current), 1)
    w.count = w.count + 1
    w.buckets[#w.buckets + 1] = {w.current, 1}
  end
  redis.call('PEXPIRE', KEYS[1], (N + 1) * 60 * 1000)
end
-- reset: seconds until the window has room for one more request than it has now
local best = nil
for _, w in ipairs(windows) do
  table.sort(w.buckets, function(a, b) return a[1] < b[1] end)
  w.remaining = math.max(0, w.limit - w.count)
  w.reset = 0
  local excess = math.max(1, w.count - w.limit + 1)
  local freed = 0
  for _, b in ipairs(w.buckets) do
    freed = freed + b[2]
    if freed >= excess then
      w.reset = math.max(1, math.ceil((b[1] + N) * w.step - now))
      break
    end
  end
  if best == nil or w.remaining < best.remaining
      or (w.remaining == best.remaining and w.reset > best.reset) then
    best = w
  end
end
return {allowed, best.limit, best.remaining, best.reset}
"""


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict on one request, reported for the tighter of the two windows."""

    allowed: bool
    limit: int
    remaining: int
    reset: int
    policy: str

    def headers(self) -> dict[str, str]:
        """IETF httpapi RateLimit headers; Retry-After is added by the caller on refusal."""
        return {
            "RateLimit-Policy": self.policy,
            "RateLimit": f"limit={self.limit}, remaining={self.remaining}, reset={self.reset}",
        }


class RateLimiter:
    """The limiter. Its script runs on the hot path (shared.redis_lane), and a route's first
    read can ride along in the same round trip (`hit_and_read`)."""

    def __init__(
        self,
        r: redis.Redis,
        keys: Keys,
        per_minute: int,
        per_hour: int,
        path: HotPath | None = None,
    ) -> None:
        self._keys = keys
        self._defaults = (per_minute, per_hour)
        self._script = r.register_script(_SCRIPT)  # by hash; loaded once where it is missing
        self._loader = ScriptLoader(r)
        self._path = path if path is not None else hot_path(r)

    def limits(self, record: KeyRecord) -> tuple[int, int]:
        """The partner's own limits where an admin set them, else the defaults."""
        return (
            record.rate_limit_minute or self._defaults[0],
            record.rate_limit_hour or self._defaults[1],
        )

    async def hit(self, record: KeyRecord) -> Decision:
        """Count one request of the partner if both windows have room."""
        decision, _ = await self.hit_and_read(record, None)
        return decision

    async def hit_and_read(
        self, record: KeyRecord, key: str | None
    ) -> tuple[Decision, dict[str, str] | None]:
        """`hit`, and in the same round trip the hash at `key` (HGETALL) when one is named.
        The hash is handed back only with a request that is allowed: a refused one has read
        nothing. None, too, when the read itself failed: the caller then reads on its own and
        meets the failure as it would have without this."""
        per_minute, per_hour = self.limits(record)
        rate_key = self._keys.rate(record.partner_id)
        hit: Call = (rate_key, ("EVALSHA", self._script.sha, 1, rate_key, per_minute, per_hour))
        calls = [hit] if key is None else [hit, (key, ("HGETALL", key))]
        replies = await self._path.run(calls)
        verdict: Any = replies[0]
        if isinstance(verdict, NoScriptError):
            # a server without the script (restarted, flushed, failed over): every request
            # that finds it missing waits for one load, then runs it by hash again
            await self._loader.load(self._script, rate_key)
            [verdict] = await self._path.run([hit])
            if isinstance(verdict, NoScriptError):  # flushed again meanwhile: the slow way
                verdict = await self._script(keys=[rate_key], args=[per_minute, per_hour])
        if isinstance(verdict, Exception):
            raise verdict
        allowed, limit, remaining, reset = verdict
        decision = Decision(
            allowed=bool(allowed),
            limit=int(limit),
            remaining=int(remaining),
            reset=int(reset),
            policy=f"{per_minute};w=60, {per_hour};w=3600",
        )
        fields = replies[1] if key is not None and decision.allowed else None
        return decision, fields if isinstance(fields, dict) else None

    async def aclose(self) -> None:
        await self._path.aclose()
