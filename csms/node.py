"""A csms node: its charger connections, the registry entries it owns, and the commands
published to it."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from typing import Any

import redis.asyncio as redis
from prometheus_client import Counter

from csms import commands, handlers_v16, handlers_v201, metrics
from csms.connection import ChargerConnection, ChargerOffline, iso
from csms.framing import OCPP16, OCPP201, CallError
from csms.handlers_v16 import Handler
from csms.store import StateWriter
from csms.txids import TransactionIds
from shared import events as ev
from shared.bus import CommandReply, CommandRequest, Outcome
from shared.redis_keys import F, Keys
from shared.settings import Settings

log = logging.getLogger(__name__)

# Clears the online flag only if the hash still names this connection: a charger that has
# already reconnected elsewhere must not be marked offline by its old connection's close.
_DETACH = """
if redis.call('HGET', KEYS[1], 'gen') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'online', '0', 'seen', ARGV[2])
  return 1
end
return 0
"""


class Node:
    def __init__(self, settings: Settings, r: redis.Redis) -> None:
        self.settings = settings
        self.redis = r
        self.keys = Keys(settings.redis_prefix)
        self.node_id = settings.node_id
        self.connections: dict[str, ChargerConnection] = {}
        self.writer = StateWriter(r, self.keys, settings.stream_shards)
        tx_ids = TransactionIds(r, self.keys.transaction_ids)
        self.handlers: dict[str, dict[str, Handler]] = {
            OCPP16: handlers_v16.handlers(tx_ids),
            OCPP201: handlers_v201.handlers(),
        }
        self._generations = itertools.count(1)
        self._started = int(time.time())
        self._detach = r.register_script(_DETACH)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._message_counters: dict[tuple[str, str], Counter] = {}

    def new_generation(self) -> str:
        return f"{self.node_id}:{self._started}:{next(self._generations)}"

    def metrics_message(self, protocol: str, action: str) -> None:
        counter = self._message_counters.get((protocol, action))
        if counter is None:
            counter = metrics.MESSAGES.labels(protocol, action)
            self._message_counters[(protocol, action)] = counter
        counter.inc()

    # connections -------------------------------------------------------------------------

    async def attach(self, conn: ChargerConnection) -> None:
        """Make this connection the charger's: close an older one here, point the registry here."""
        old = self.connections.get(conn.charger_id)
        self.connections[conn.charger_id] = conn
        if old is not None and old is not conn:
            self._spawn(old.close(1000, "replaced by a newer connection"))
        s = conn.session
        now = time.time()
        fields = {
            F.NODE: self.node_id,
            F.GENERATION: s.generation,
            F.ONLINE: "1",
            F.PROTOCOL: s.protocol,
            F.SEEN: repr(now),
        }
        event = {
            "type": ev.CONNECTION,
            "cp": s.charger_id,
            "at": now,
            "online": True,
            "node": self.node_id,
            "protocol": s.protocol,
        }
        await self.writer.write(s.charger_id, fields, [event])
        metrics.CONNECTIONS.labels(s.protocol).inc()

    async def detach(self, conn: ChargerConnection) -> None:
        s = conn.session
        metrics.CONNECTIONS.labels(s.protocol).dec()
        if self.connections.get(s.charger_id) is conn:
            del self.connections[s.charger_id]
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

    async def keep_alive(self) -> None:
        """Announce this node every third of its TTL; a node that dies ages out."""
        ttl = self.settings.node_ttl
        while True:
            try:
                now = time.time()
                await self.redis.zadd(self.keys.nodes, {self.node_id: now + ttl})
                await self.redis.zremrangebyscore(self.keys.nodes, "-inf", now - 3600)
            except Exception:
                log.warning("node keep-alive failed", exc_info=True)
            await asyncio.sleep(ttl / 3)

    async def retire(self) -> None:
        await self.redis.zrem(self.keys.nodes, self.node_id)

    # commands ----------------------------------------------------------------------------

    async def listen_for_commands(self, ready: asyncio.Event | None = None) -> None:
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(self.keys.node_channel(self.node_id))
        if ready is not None:
            ready.set()
        try:
            async for message in pubsub.listen():
                if message.get("type") != "message":
                    continue
                try:
                    request = CommandRequest.model_validate_json(message["data"])
                except ValueError:
                    log.warning("malformed command envelope dropped")
                    continue
                self._spawn(self._run_command(request))
        finally:
            await pubsub.aclose()

    async def _run_command(self, request: CommandRequest) -> None:
        started = time.perf_counter()
        reply = await self.execute(request)
        metrics.COMMANDS.labels(request.action.value, reply.outcome.value).inc()
        metrics.COMMAND_SECONDS.observe(time.perf_counter() - started)
        payload = reply.model_dump_json()
        try:
            await self.redis.publish(request.reply_to, payload)
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

    async def execute(self, request: CommandRequest) -> CommandReply:
        """Carry out one command on a charger held by this node."""
        conn = self.connections.get(request.charger_id)
        if conn is None:
            return CommandReply(
                id=request.id, outcome=Outcome.EVSE_OFFLINE, message="the charger is not connected"
            )
        built = commands.build(request.action, request.params, conn.session, request.id)
        if isinstance(built, commands.Refusal):
            return CommandReply(id=request.id, outcome=built.outcome, message=built.message)
        try:
            answer = await conn.call(built.action, built.payload, request.timeout)
        except TimeoutError:
            return CommandReply(
                id=request.id,
                outcome=Outcome.TIMEOUT,
                ocpp_action=built.action,
                message="the charger did not answer in time",
            )
        except ChargerOffline:
            return CommandReply(
                id=request.id,
                outcome=Outcome.EVSE_OFFLINE,
                ocpp_action=built.action,
                message="the charger disconnected before answering",
            )
        if isinstance(answer, CallError):
            response = {"errorCode": answer.code, "description": answer.description}
        else:
            response = answer.payload
        return CommandReply(
            id=request.id,
            outcome=commands.outcome(answer),
            ocpp_action=built.action,
            response=response,
        )

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def shutdown(self) -> None:
        for conn in list(self.connections.values()):
            await conn.close(1001, "central system going away")
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)


__all__ = ["Node", "iso"]
