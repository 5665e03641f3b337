"""Commands published to this node's channel: run each on the charger's connection, publish
the reply to the gateway that asked, record the outcome, or hand the command on to the node
the charger has moved to."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from functools import partial
from typing import Any

import orjson
from pydantic import ValidationError

from csms import commands, metrics
from csms.authorization import TokenReader
from csms.connection import Answer, ChargerConnection, ChargerOffline
from csms.presence import Presence, Spawn
from csms.store import StateWriter
from shared import events as ev
from shared.bus import CommandReply, CommandRequest, Evict, Outcome
from shared.framing import CallError
from shared.pubsub import Subscription
from shared.redaction import redacted
from shared.redis_keys import F, Keys
from shared.redis_lane import HotPath, failure

log = logging.getLogger(__name__)

# A command is handed on at most this often when its charger moves between nodes.
MAX_HOPS = 2
# A command delivered again within this time runs once. A cluster client retries a publish
# whose reply a lost connection took (a failover), though Redis may have delivered it.
REPEATS_WITHIN = 60.0


class Repeats:
    """Keys seen within the last `window` seconds."""

    def __init__(self, window: float) -> None:
        self._window = window
        self._seen: set[Hashable] = set()
        self._order: deque[tuple[float, Hashable]] = deque()

    def again(self, key: Hashable, now: float) -> bool:
        """Whether the key came within the window; remembered from now if not."""
        order, seen = self._order, self._seen
        while order and now - order[0][0] >= self._window:
            seen.discard(order.popleft()[1])
        if key in seen:
            return True
        seen.add(key)
        order.append((now, key))
        return False


class CommandRunner:
    def __init__(
        self,
        r: Any,
        keys: Keys,
        presence: Presence,
        writer: StateWriter,
        spawn: Spawn,
        closing: Callable[[], bool],
        commands: HotPath,
        tokens: TokenReader | None = None,
    ) -> None:
        self._redis = r
        self._commands = commands  # replies and hand-ons: not behind the ingest's batches
        self._keys = keys
        self._presence = presence
        self.node_id = presence.node_id
        self.connections: dict[str, ChargerConnection] = presence.connections
        self._writer = writer
        self._spawn = spawn
        self._closing = closing
        self._tokens = tokens
        self._repeats = Repeats(REPEATS_WITHIN)

    def channel(self) -> Subscription:
        """This node's command channel, to start before the node takes chargers."""
        return Subscription(
            self._redis, self._keys.node_channel(self.node_id), self.on_envelope, name="commands"
        )

    def on_envelope(self, data: str | bytes) -> None:
        """A message on this node's channel: a command to run, or an eviction."""
        try:
            raw = orjson.loads(data)
            if isinstance(raw, dict) and raw.get("kind") == "evict":
                evict = Evict.model_validate(raw)
                self._presence.evict(evict.charger_id, evict.generation)
                return
            request = CommandRequest.model_validate(raw)
        except (orjson.JSONDecodeError, ValidationError):
            log.warning("malformed command envelope dropped")
            return
        # a hand-on (hops + 1) may come back to a node the charger returned to: a new delivery
        if self._repeats.again((request.id, request.hops), time.monotonic()):
            log.warning("a command delivered twice ran once", extra={"command_id": request.id})
            return
        if not self._start_now(request):
            self._spawn(self._run(request))

    def _start_now(self, request: CommandRequest) -> bool:
        """Send the command's CALL in the turn of the loop that read it, and publish its reply
        in the one that reads the charger's answer, with no task's turn between: a command
        waits behind no telemetry the loop reads meanwhile. False if it cannot start so (no
        CALL can be sent at once, or Redis cannot be asked at once); execute() then runs it."""
        conn = self._held(request.charger_id)
        if conn is None or conn.closed or conn.calling:
            return False  # behind another CALL: built and granted once, by execute()
        built = commands.build(request.action, request.params, conn.session, request.id)
        if isinstance(built, commands.Refusal):
            return False
        token = commands.remote_start_token(built)
        if token is not None and self._tokens is not None:
            # before the CALL, on the connection that serves the charger's lookup after it
            if not self._tokens.grant_now(token, request.charger_id):
                return False
        ran = _Running(request, built, time.perf_counter())
        sent = conn.call_now(built.action, built.payload, partial(self._answered, ran, conn))
        if sent is None:
            # the socket does not take writes now: the grant asked above is asked again, the
            # same key with the same expiry
            return False
        message_id, answer = sent
        task = self._spawn(self._await_answer(ran, conn, message_id, answer))
        # a task cancelled before its first step runs no `finally`: the turn must pass on
        task.add_done_callback(lambda _: conn.end_call(message_id))
        return True

    def _answered(self, ran: _Running, conn: ChargerConnection, answer: Answer) -> None:
        """The charger's answer, as it is read: the reply goes out now."""
        ran.reply = _reply(ran.request, ran.built.action, conn, answer)
        ran.posted = self._post_now(ran.request, ran.reply)

    def _post_now(self, request: CommandRequest, reply: CommandReply) -> bool:
        """Publish the reply without a turn of the loop, if the lane can; False if not."""
        asked = self._commands.issue([("PUBLISH", request.reply_to, reply.model_dump_json())])
        if asked is None:
            return False
        asked.add_done_callback(partial(_published, request.id))
        return True

    async def _await_answer(
        self,
        ran: _Running,
        conn: ChargerConnection,
        message_id: str,
        answer: asyncio.Future[Answer],
    ) -> None:
        """Wait for the answer of a CALL sent at once (or the timeout, or the charger gone),
        then end the command as _run does."""
        request, action = ran.request, ran.built.action
        try:
            async with asyncio.timeout(request.timeout):
                settled = await answer
            reply = ran.reply or _reply(request, action, conn, settled)
        except TimeoutError:  # or it came just as time ran out: the reply sent stands
            reply = ran.reply or _unanswered(request, action, TIMED_OUT)
        except ChargerOffline:
            reply = _unanswered(request, action, GONE)
        finally:
            conn.end_call(message_id)
        await self._finish(request, reply, ran.started, ran.posted)

    async def _run(self, request: CommandRequest) -> None:
        started = time.perf_counter()
        reply = await self.execute(request)
        if reply is None:
            return  # handed on to the charger's new node, which answers and records it
        await self._finish(request, reply, started)

    async def _finish(
        self, request: CommandRequest, reply: CommandReply, started: float, posted: bool = False
    ) -> None:
        """Count the command, publish its reply unless that is done, and record its outcome."""
        metrics.COMMANDS.labels(request.action.value, reply.outcome.value).inc()
        metrics.COMMAND_SECONDS.observe(time.perf_counter() - started)
        if not posted:
            try:
                await self._commands.post(request.reply_to, reply.model_dump_json())
            except Exception:
                log.warning("could not publish command reply", extra={"command_id": request.id})
        event = ev.command(
            request.charger_id,
            time.time(),
            command_id=request.id,
            partner_id=request.partner_id,
            action=request.action.value,
            params=redacted(request.params),
            ocpp_action=reply.ocpp_action,
            outcome=reply.outcome.value,
            response=reply.response,
            message=reply.message,
        )
        try:
            await self._writer.write(request.charger_id, None, [event])
        except Exception:
            log.warning("could not record command outcome", extra={"command_id": request.id})

    def _held(self, charger_id: str) -> ChargerConnection | None:
        return None if self._closing() else self.connections.get(charger_id)

    async def execute(self, request: CommandRequest) -> CommandReply | None:
        """Carry out one command on a charger held by this node; None if it was handed on to
        the node the charger has moved to."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + request.timeout
        conn = self._held(request.charger_id)
        while True:
            if conn is None or conn.closed:
                if await self._forward(request, deadline - loop.time()):
                    return None
                message = (
                    "the charger's csms node is shutting down"
                    if self._closing()
                    else "the charger is not connected"
                )
                return CommandReply(id=request.id, outcome=Outcome.EVSE_OFFLINE, message=message)
            built = commands.build(request.action, request.params, conn.session, request.id)
            if isinstance(built, commands.Refusal):
                return CommandReply(id=request.id, outcome=built.outcome, message=built.message)
            # before the CALL: the charger may Authorize or start as soon as it has it
            await self._grant(commands.remote_start_token(built), request.charger_id)
            try:
                answer = await conn.call(built.action, built.payload, deadline - loop.time())
            except TimeoutError:
                return _unanswered(request, built.action, TIMED_OUT)
            except ChargerOffline as exc:
                if not exc.sent and loop.time() < deadline:
                    # Never sent: try the charger's newer connection here, or its new node.
                    newer = self._held(request.charger_id)
                    conn = None if newer is conn else newer
                    continue
                return _unanswered(request, built.action, GONE)
            return _reply(request, built.action, conn, answer)

    async def _grant(self, token: str | None, charger_id: str) -> None:
        if token is None or self._tokens is None:
            return
        try:
            await self._tokens.grant(token, charger_id)
        except Exception:  # the start goes ahead; a token nobody registered may then be refused
            log.warning("could not record a remote start's token", extra={"charger_id": charger_id})

    async def _forward(self, request: CommandRequest, remaining: float) -> bool:
        """Hand the command to the node the registry now names, if another live one does."""
        if request.hops >= MAX_HOPS or remaining <= 0:
            return False
        try:
            node, online = await self._redis.hmget(
                self._keys.charger(request.charger_id), [F.NODE, F.ONLINE]
            )
            if not node or node == self.node_id or online != "1":
                return False
            onward = request.model_copy(update={"hops": request.hops + 1, "timeout": remaining})
            receivers = await self._commands.post(
                self._keys.node_channel(str(node)), onward.model_dump_json()
            )
        except Exception:
            log.warning("could not hand a command on", extra={"command_id": request.id})
            return False
        return bool(receivers)


@dataclass(slots=True)
class _Running:
    """A command whose CALL went out at once, until its task ends it."""

    request: CommandRequest
    built: commands.OcppCall
    started: float
    reply: CommandReply | None = None  # made as the answer is read
    posted: bool = False  # and published then


def _reply(
    request: CommandRequest, action: str, conn: ChargerConnection, answer: Answer
) -> CommandReply:
    """The reply to a command the charger answered."""
    result, why = commands.settle(conn.session.protocol, action, answer)
    if isinstance(answer, CallError):
        response = {"errorCode": answer.code, "description": answer.description}
    else:
        response = answer.payload
    return CommandReply(
        id=request.id,
        outcome=result,
        ocpp_action=action,
        response=response,
        message=why,
    )


# Why a CALL that went out has no answer: the charger was silent past the command's timeout,
# or its connection closed first.
TIMED_OUT = (Outcome.TIMEOUT, "the charger did not answer in time")
GONE = (Outcome.EVSE_OFFLINE, "the charger disconnected before answering")


def _unanswered(request: CommandRequest, action: str, why: tuple[Outcome, str]) -> CommandReply:
    outcome, message = why
    return CommandReply(id=request.id, outcome=outcome, ocpp_action=action, message=message)


def _published(command_id: str, asked: asyncio.Future[list[Any]]) -> None:
    """A reply published without waiting: a failure is logged, as _finish logs it."""
    if failure(asked) is not None:
        log.warning("could not publish command reply", extra={"command_id": command_id})
