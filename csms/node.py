"""A csms node: its charger connections, the registry entries it owns, and the commands
published to it."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import orjson
from prometheus_client import Counter
from pydantic import ValidationError

from csms import commands, handlers_v16, handlers_v201, metrics, schemas
from csms.connection import ChargerConnection, ChargerOffline, iso, triggered_action
from csms.framing import OCPP16, OCPP201, CallError
from csms.schemas import Validator
from csms.session import Handler
from csms.store import StateWriter
from csms.txids import TransactionIds
from shared import events as ev
from shared.bus import CommandReply, CommandRequest, Evict, Outcome
from shared.pubsub import Subscription
from shared.redis_keys import F, Keys
from shared.settings import Settings

log = logging.getLogger(__name__)

# Makes the connection the charger's and returns [its generation, previous node, previous
# online flag]. A generation is "<n>/<node>" with n counting up per charger, so any node can
# tell which of two connections is newer.
_ATTACH = f"""
local old = redis.call('HMGET', KEYS[1], '{F.NODE}', '{F.GENERATION}', '{F.ONLINE}')
local n = tonumber(string.match(old[2] or '', '^(%d+)/')) or 0
local gen = tostring(n + 1) .. '/' .. ARGV[1]
redis.call('HSET', KEYS[1], '{F.NODE}', ARGV[1], '{F.GENERATION}', gen, '{F.ONLINE}', '1',
           '{F.PROTOCOL}', ARGV[2], '{F.SEEN}', ARGV[3])
return {{gen, old[1] or '', old[3] or ''}}
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

# A command is handed on at most this often when its charger moves between nodes.
MAX_HOPS = 2


def generation_number(generation: str) -> int:
    number, _, _ = generation.partition("/")
    return int(number) if number.isdigit() else 0


class Superseded(Exception):
    """A newer connection of the same charger attached first; this one must close."""


class Node:
    def __init__(self, settings: Settings, r: Any) -> None:
        self.settings = settings
        self.redis = r
        self.keys = Keys.of(settings)
        self.node_id = settings.node_id
        self.connections: dict[str, ChargerConnection] = {}
        self.writer = StateWriter(
            r,
            self.keys,
            wait_replicas=settings.redis_wait_replicas,
            wait_timeout_ms=settings.redis_wait_timeout_ms,
        )
        tx_ids = TransactionIds(r, self.keys.transaction_ids)
        self.handlers: dict[str, dict[str, Handler]] = {
            OCPP16: handlers_v16.handlers(tx_ids),
            OCPP201: handlers_v201.handlers(),
        }
        # compiled once here so that a message costs one dict lookup to find its validator
        self.validators: dict[str, dict[str, Validator | None]] = {
            protocol: {action: schemas.validator(protocol, action) for action in handlers}
            for protocol, handlers in self.handlers.items()
        }
        self.closing = False
        self._evictions: dict[str, str] = {}  # for connections still attaching
        self._attach = r.register_script(_ATTACH)
        self._detach = r.register_script(_DETACH)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._message_counters: dict[tuple[str, str], Counter] = {}

    def metrics_message(self, protocol: str, action: str) -> None:
        counter = self._message_counters.get((protocol, action))
        if counter is None:
            counter = metrics.MESSAGES.labels(protocol, action)
            self._message_counters[(protocol, action)] = counter
        counter.inc()

    # connections -------------------------------------------------------------------------

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
            generation, old_node, old_online = await self._attach(
                keys=[self.keys.charger(cp)], args=[self.node_id, s.protocol, repr(now)]
            )
        except BaseException:
            self._evictions.pop(cp, None)
            if self.connections.get(cp) is conn:
                del self.connections[cp]
            raise
        s.generation = str(generation)
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
        event = {
            "type": ev.CONNECTION,
            "cp": s.charger_id,
            "at": now,
            "online": True,
            "node": self.node_id,
            "protocol": s.protocol,
        }
        await self.writer.write(s.charger_id, None, [event])
        metrics.CONNECTIONS.labels(s.protocol).inc()

    async def _evict_elsewhere(self, node: str, charger_id: str, generation: str) -> None:
        message = Evict(charger_id=charger_id, generation=generation).model_dump_json()
        try:
            await self.redis.post(self.keys.node_channel(node), message)
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
            if await self._detach(
                keys=[self.keys.charger(s.charger_id)], args=[s.generation, repr(now)]
            ):
                event = {
                    "type": ev.CONNECTION,
                    "cp": s.charger_id,
                    "at": now,
                    "online": False,
                    "node": self.node_id,
                }
                await self.writer.write(s.charger_id, None, [event])
        except Exception:
            log.warning("could not clear registry entry", extra={"charger_id": s.charger_id})

    # liveness ----------------------------------------------------------------------------

    async def announce(self) -> None:
        """Count this node alive for one TTL more (and forget nodes gone for an hour)."""
        now = time.time()
        await self.redis.zadd(self.keys.nodes, {self.node_id: now + self.settings.node_ttl})
        await self.redis.zremrangebyscore(self.keys.nodes, "-inf", now - 3600)

    async def keep_alive(self) -> None:
        """Announce this node every third of its TTL; a node that dies ages out."""
        while True:
            await asyncio.sleep(self.settings.node_ttl / 3)
            try:
                await self.announce()
            except Exception:
                log.warning("node keep-alive failed", exc_info=True)

    async def retire(self) -> None:
        await self.redis.zrem(self.keys.nodes, self.node_id)

    # commands ----------------------------------------------------------------------------

    def command_channel(self) -> Subscription:
        """This node's command channel, to start before the node takes chargers."""
        return Subscription(
            self.redis, self.keys.node_channel(self.node_id), self.on_envelope, name="commands"
        )

    def on_envelope(self, data: str | bytes) -> None:
        """A message on this node's channel: a command to run, or an eviction."""
        try:
            raw = orjson.loads(data)
            if isinstance(raw, dict) and raw.get("kind") == "evict":
                evict = Evict.model_validate(raw)
                self.evict(evict.charger_id, evict.generation)
                return
            request = CommandRequest.model_validate(raw)
        except (orjson.JSONDecodeError, ValidationError):
            log.warning("malformed command envelope dropped")
            return
        self._spawn(self._run_command(request))

    async def _run_command(self, request: CommandRequest) -> None:
        started = time.perf_counter()
        reply = await self.execute(request)
        if reply is None:
            return  # handed on to the charger's new node, which answers and records it
        metrics.COMMANDS.labels(request.action.value, reply.outcome.value).inc()
        metrics.COMMAND_SECONDS.observe(time.perf_counter() - started)
        payload = reply.model_dump_json()
        try:
            await self.redis.post(request.reply_to, payload)
        except Exception:
            log.warning("could not publish command reply", extra={"command_id": request.id})
        event = {
            "type": ev.COMMAND,
            "cp": request.charger_id,
            "at": time.time(),
            "command_id": request.id,
            "partner_id": request.partner_id,
            "action": request.action.value,
            "params": request.params,
            "ocpp_action": reply.ocpp_action,
            "outcome": reply.outcome.value,
            "response": reply.response,
            "message": reply.message,
        }
        try:
            await self.writer.write(request.charger_id, None, [event])
        except Exception:
            log.warning("could not record command outcome", extra={"command_id": request.id})

    async def execute(self, request: CommandRequest) -> CommandReply | None:
        """Carry out one command on a charger held by this node; None if it was handed on to
        the node the charger has moved to."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + request.timeout
        conn = None if self.closing else self.connections.get(request.charger_id)
        while True:
            if conn is None or conn.closed:
                if await self._forward(request, deadline - loop.time()):
                    return None
                message = (
                    "the charger's csms node is shutting down"
                    if self.closing
                    else "the charger is not connected"
                )
                return CommandReply(id=request.id, outcome=Outcome.EVSE_OFFLINE, message=message)
            built = commands.build(request.action, request.params, conn.session, request.id)
            if isinstance(built, commands.Refusal):
                return CommandReply(id=request.id, outcome=built.outcome, message=built.message)
            try:
                answer = await conn.call(built.action, built.payload, deadline - loop.time())
            except TimeoutError:
                return CommandReply(
                    id=request.id,
                    outcome=Outcome.TIMEOUT,
                    ocpp_action=built.action,
                    message="the charger did not answer in time",
                )
            except ChargerOffline as exc:
                if not exc.sent and loop.time() < deadline:
                    # Never sent: try the charger's newer connection here, or its new node.
                    newer = None if self.closing else self.connections.get(request.charger_id)
                    conn = None if newer is conn else newer
                    continue
                return CommandReply(
                    id=request.id,
                    outcome=Outcome.EVSE_OFFLINE,
                    ocpp_action=built.action,
                    message="the charger disconnected before answering",
                )
            break
        result, why = commands.settle(conn.session.protocol, built.action, answer)
        if built.action == "TriggerMessage" and result is Outcome.ACCEPTED:
            # a charger whose boot is still pending may send what it was asked for
            conn.session.triggered.add(triggered_action(built.payload["requestedMessage"]))
        if isinstance(answer, CallError):
            response = {"errorCode": answer.code, "description": answer.description}
        else:
            response = answer.payload
        return CommandReply(
            id=request.id,
            outcome=result,
            ocpp_action=built.action,
            response=response,
            message=why,
        )

    async def _forward(self, request: CommandRequest, remaining: float) -> bool:
        """Hand the command to the node the registry now names, if another live one does."""
        if request.hops >= MAX_HOPS or remaining <= 0:
            return False
        try:
            node, online = await self.redis.hmget(
                self.keys.charger(request.charger_id), [F.NODE, F.ONLINE]
            )
            if not node or node == self.node_id or online != "1":
                return False
            onward = request.model_copy(update={"hops": request.hops + 1, "timeout": remaining})
            receivers = await self.redis.post(
                self.keys.node_channel(str(node)), onward.model_dump_json()
            )
        except Exception:
            log.warning("could not hand a command on", extra={"command_id": request.id})
            return False
        return bool(receivers)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def shutdown(self, timeout: float = 10.0, drain: float = 1.0) -> None:
        """Answer the charger CALLs in hand, then close every charger with 1001 so it reconnects
        elsewhere; commands still running end with an error reply (or go to the charger's new
        node) before this returns."""
        self.closing = True
        conns = list(self.connections.values())
        try:
            async with asyncio.timeout(drain):
                await asyncio.gather(*(c.idle.wait() for c in conns))
        except TimeoutError:
            log.warning("closing with CALLs still being answered")
        await asyncio.gather(
            *(c.close(1001, "central system going away") for c in conns), return_exceptions=True
        )
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=timeout)


__all__ = ["Node", "Superseded", "iso"]
