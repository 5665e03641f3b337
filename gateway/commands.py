"""The gateway side of the command bus: publish to the charger's node, await its reply here."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from gateway.nodes import AliveNodes
from shared.bus import Action, CommandReply, CommandRequest, Outcome
from shared.ids import new_id
from shared.pubsub import Subscription
from shared.redis_client import UNAVAILABLE
from shared.redis_keys import F, Keys
from shared.redis_lane import hot_path

log = logging.getLogger(__name__)

# Beyond the charger's own timeout, the time the node may take to notice it and answer.
REPLY_MARGIN = 2.0

# A charger's whereabouts in the registry: its node, and "1" while it is connected.
Location = tuple[str | None, str | None]


@dataclass(frozen=True, slots=True)
class Settled:
    """How a command ended: the node's reply, or what the gateway concluded without one."""

    reply: CommandReply
    by_gateway: bool = False  # no csms node reported it: nothing else will record it
    unreachable: bool = False  # FAILED because the node was unreachable, not the charger


def http_status(settled: Settled) -> int:
    """The HTTP status a synchronous command answers with for this outcome."""
    match settled.reply.outcome:
        case Outcome.ACCEPTED | Outcome.REJECTED:
            return 200
        case Outcome.EVSE_OFFLINE | Outcome.NOT_SUPPORTED:
            return 409
        case Outcome.TIMEOUT:
            return 504
        case Outcome.FAILED:
            return 503 if settled.unreachable else 502
    return 502


def failure_message(settled: Settled) -> str:
    reply = settled.reply
    if reply.message:
        return reply.message
    match reply.outcome:
        case Outcome.EVSE_OFFLINE:
            return "the charger is not connected"
        case Outcome.NOT_SUPPORTED:
            return "the command does not apply to the charger's state"
        case Outcome.TIMEOUT:
            return "the charger did not answer in time"
        case Outcome.FAILED:
            response = reply.response or {}
            detail = ": ".join(
                str(v) for v in (response.get("errorCode"), response.get("description")) if v
            )
            return f"the charger answered with an error: {detail or 'unspecified'}"
    return f"unexpected command outcome {reply.outcome}"


class CommandBus:
    """Sends commands to csms nodes and matches their replies, which come to this instance only."""

    def __init__(
        self, r: Any, keys: Keys, nodes: AliveNodes, instance_id: str | None = None
    ) -> None:
        self._redis = r
        # Commands go ahead of reads: published on a connection of their own (a lane on one
        # server), not behind every request's rate-limit script or redis-py's pool.
        self._path = hot_path(r, eager=True)
        self._keys = keys
        self._nodes = nodes
        self.instance_id = instance_id or new_id("gw")
        self.reply_channel = keys.reply_channel(self.instance_id)
        self._pending: dict[str, asyncio.Future[CommandReply]] = {}
        # Replies sent while the subscription is lost are lost: their commands end in TIMEOUT.
        self._replies = Subscription(r, self.reply_channel, self._deliver, name="replies")

    async def start(self) -> None:
        """Subscribed once this returns, so no reply can arrive before we listen."""
        await self._replies.start()

    async def stop(self) -> None:
        await self._replies.stop()
        for future in self._pending.values():
            future.cancel()
        await self._path.aclose()

    async def _node_alive(self, node: str) -> bool:
        if node in self._nodes.alive:
            return True
        # a node that started since the last refresh of the alive set: ask Redis itself
        until = await self._redis.zscore(self._keys.nodes, node)
        return until is not None and float(until) > time.time()

    def _deliver(self, data: str | bytes) -> None:
        try:
            reply = CommandReply.model_validate_json(data)
        except ValidationError:
            log.warning("malformed command reply dropped")
            return
        future = self._pending.get(reply.id)
        if future is not None and not future.done():
            future.set_result(reply)

    async def send(
        self,
        charger_id: str,
        partner_id: str | None,
        action: Action,
        params: dict[str, Any],
        timeout: float,
        command_id: str | None = None,
        where: Location | None = None,
    ) -> Settled:
        """Run a command on the charger's node and say how it ended; never raises for an
        offline charger (EVSE_OFFLINE), an unreachable node (FAILED) or no reply (TIMEOUT).
        `where` is the charger's node and online flag if the caller read them already."""
        command_id = command_id or new_id("cmd")
        if where is None:
            node, online = await self._redis.hmget(
                self._keys.charger(charger_id), [F.NODE, F.ONLINE]
            )
        else:
            node, online = where
        if online != "1" or node is None or not await self._node_alive(str(node)):
            return _concluded(command_id, Outcome.EVSE_OFFLINE, "the charger is not connected")
        request = CommandRequest(
            id=command_id,
            reply_to=self.reply_channel,
            charger_id=charger_id,
            partner_id=partner_id,
            action=action,
            params=params,
            timeout=timeout,
        )
        future: asyncio.Future[CommandReply] = asyncio.get_running_loop().create_future()
        self._pending[request.id] = future
        try:
            try:
                receivers = await self._path.post(
                    self._keys.node_channel(str(node)), request.model_dump_json()
                )
            except UNAVAILABLE:
                # The connection was lost, perhaps with the publish delivered: it may run, so
                # its reply is awaited as if it went; no answer is a TIMEOUT, never "retry".
                log.warning("command publish's answer lost", extra={"command_id": command_id})
                receivers = None
            if receivers == 0:
                settled = _concluded(
                    command_id,
                    Outcome.FAILED,
                    "the charger's csms node is unreachable; retry later",
                )
                return Settled(settled.reply, by_gateway=True, unreachable=True)
            try:
                return Settled(await asyncio.wait_for(future, timeout + REPLY_MARGIN))
            except TimeoutError:
                return _concluded(
                    command_id, Outcome.TIMEOUT, "no answer from the charger's csms node in time"
                )
        finally:
            del self._pending[request.id]


def _concluded(command_id: str, outcome: Outcome, message: str) -> Settled:
    return Settled(CommandReply(id=command_id, outcome=outcome, message=message), by_gateway=True)
