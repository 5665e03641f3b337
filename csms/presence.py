"""Which charger connections this node holds, here and in the registry: attach a new one,
detach a closed one, evict an older one, and keep the node counted alive."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from csms import metrics
from csms.connection import ChargerConnection
from csms.store import StateWriter
from shared import events as ev
from shared.bus import Evict
from shared.redis_batch import Coalescer
from shared.redis_keys import F, Keys

log = logging.getLogger(__name__)

Spawn = Callable[[Coroutine[Any, Any, Any]], asyncio.Task[Any]]

# Makes the connection the charger's and returns [its generation, previous node, previous
# online flag, the whole hash or nothing]. A generation is "<n>/<node>" with n counting up per
# charger, so any node can tell which of two connections is newer. The hash, as it was before
# this connection made it its own, comes back when a fenced transaction write (csms/store.py)
# landed since the handshake read it (ARGV[4], the count that read saw). From here on the older
# connection's fenced writes are refused, so this connection carries on from every transaction
# start and end that was stored.
_ATTACH = f"""
local old = redis.call('HMGET', KEYS[1], '{F.NODE}', '{F.GENERATION}', '{F.ONLINE}',
                       '{F.TX_VERSION}')
local fresh = {{}}
if (old[4] or '') ~= ARGV[4] then fresh = redis.call('HGETALL', KEYS[1]) end
local n = tonumber(string.match(old[2] or '', '^(%d+)/')) or 0
local gen = tostring(n + 1) .. '/' .. ARGV[1]
redis.call('HSET', KEYS[1], '{F.NODE}', ARGV[1], '{F.GENERATION}', gen, '{F.ONLINE}', '1',
           '{F.PROTOCOL}', ARGV[2], '{F.SEEN}', ARGV[3])
return {{gen, old[1] or '', old[3] or '', fresh}}
"""

# Clears the online flag only if the hash still names this connection: a charger that has
# already reconnected elsewhere must not be marked offline by its old connection's close.
_DETACH = f"""
if redis.call('HGET', KEYS[1], '{F.GENERATION}') == ARGV[1] then
  redis.call('HSET', KEYS[1], '{F.ONLINE}', '0', '{F.SEEN}', ARGV[2])
  return 1
end
return 0
"""


def generation_number(generation: str) -> int:
    number, _, _ = generation.partition("/")
    return int(number) if number.isdigit() else 0


class Superseded(Exception):
    """A newer connection of the same charger attached first; this one must close."""


class Presence:
    def __init__(
        self,
        r: Any,
        keys: Keys,
        node_id: str,
        connections: dict[str, ChargerConnection],
        writer: StateWriter,
        spawn: Spawn,
        coalescer: Coalescer,
    ) -> None:
        self._redis = r
        self._batch = coalescer
        self._keys = keys
        self.node_id = node_id
        self.connections = connections
        self._writer = writer
        self._spawn = spawn
        self._evictions: dict[str, str] = {}  # for connections still attaching
        self._attach = r.register_script(_ATTACH)
        self._detach = r.register_script(_DETACH)

    async def attach(self, conn: ChargerConnection) -> None:
        """Make this connection the charger's: the registry points here, an older connection
        here is closed, and a node that holds an older one is told to close it."""
        s = conn.session
        cp = s.charger_id
        now = time.time()
        # Listed before the registry names this node, so that a command right behind the
        # registry write finds it; an older connection keeps the slot until compared below.
        self.connections.setdefault(cp, conn)
        try:
            generation, old_node, old_online, fresh = await self._batch.script(
                self._attach,
                [self._keys.charger(cp)],
                [self.node_id, s.protocol, repr(now), s.tx_version],
            )
        except BaseException:
            self._evictions.pop(cp, None)
            if self.connections.get(cp) is conn:
                del self.connections[cp]
            raise
        s.generation = str(generation)
        if fresh:  # an older connection's transaction landed after the handshake's read
            s.carry_over(dict(zip(fresh[::2], fresh[1::2], strict=True)))
        evicted = self._evictions.pop(cp, "")
        if generation_number(evicted) > generation_number(s.generation):
            if self.connections.get(cp) is conn:
                del self.connections[cp]
            raise Superseded()  # a newer connection on another node got in between
        current = self.connections.get(cp)
        if current is not None and current is not conn:
            if generation_number(current.session.generation) > generation_number(s.generation):
                raise Superseded()
            if current.session.generation:
                self._spawn(current.close(1000, "replaced by a newer connection"))
            # one still attaching compares itself with this one when its answer comes
        self.connections[cp] = conn
        if old_node and old_node != self.node_id and old_online == "1":
            self._spawn(self._evict_elsewhere(str(old_node), s.charger_id, s.generation))
        online = ev.connection(cp, now, online=True, node=self.node_id, protocol=s.protocol)
        await self._writer.write(cp, None, [online])
        metrics.CONNECTIONS.labels(s.protocol).inc()

    async def _evict_elsewhere(self, node: str, charger_id: str, generation: str) -> None:
        message = Evict(charger_id=charger_id, generation=generation).model_dump_json()
        try:
            # batched: after a node dies, every charger it held reconnects and asks this
            await self._batch.post(self._keys.node_channel(node), message)
        except Exception:
            # that node's pings still find the stale connection, or it has died anyway
            log.warning("could not ask the previous node to close", extra={"node": node})

    def evict(self, charger_id: str, generation: str) -> None:
        """Close this node's connection of the charger if it is older than `generation`."""
        conn = self.connections.get(charger_id)
        if conn is None:
            return
        if not conn.session.generation:
            # still attaching: it compares itself with this once it has its generation
            self._evictions[charger_id] = generation
            return
        if generation_number(conn.session.generation) < generation_number(generation):
            self._spawn(conn.close(1000, "replaced by a newer connection"))

    async def detach(self, conn: ChargerConnection, attached: bool = True) -> None:
        s = conn.session
        if attached:
            metrics.CONNECTIONS.labels(s.protocol).dec()
        if self.connections.get(s.charger_id) is conn:
            del self.connections[s.charger_id]
        if not s.generation:
            return
        now = time.time()
        try:
            if await self._batch.script(
                self._detach, [self._keys.charger(s.charger_id)], [s.generation, repr(now)]
            ):
                offline = ev.connection(s.charger_id, now, online=False, node=self.node_id)
                await self._writer.write(s.charger_id, None, [offline])
        except Exception as exc:
            log.warning(
                "could not clear registry entry",
                extra={"charger_id": s.charger_id, "error": repr(exc)},
            )

    # liveness ----------------------------------------------------------------------------

    async def announce(self, ttl: float) -> None:
        """Count this node alive for `ttl` seconds more (and forget nodes gone for an hour)."""
        now = time.time()
        await self._redis.zadd(self._keys.nodes, {self.node_id: now + ttl})
        await self._redis.zremrangebyscore(self._keys.nodes, "-inf", now - 3600)

    async def keep_alive(self, ttl: float) -> None:
        """Announce this node every third of its TTL; a node that dies ages out."""
        while True:
            await asyncio.sleep(ttl / 3)
            try:
                await self.announce(ttl)
            except Exception:
                log.warning("node keep-alive failed", exc_info=True)

    async def retire(self) -> None:
        await self._redis.zrem(self._keys.nodes, self.node_id)
