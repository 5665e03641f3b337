"""The gateway side of the command bus: publish to the charger's node, await its reply here."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import redis.asyncio as redis
from pydantic import ValidationError

from gateway.errors import ApiError
from gateway.nodes import AliveNodes
from shared.bus import Action, CommandReply, CommandRequest, Outcome
from shared.ids import new_id
from shared.redis_keys import F, Keys

log = logging.getLogger(__name__)

# Beyond the charger's own timeout, the time the node may take to notice it and answer.
REPLY_MARGIN = 2.0


class CommandBus:
    """Sends commands to csms nodes and matches their replies, which come to this instance only."""

    def __init__(
        self, r: redis.Redis, keys: Keys, nodes: AliveNodes, instance_id: str | None = None
    ) -> None:
        self._redis = r
        self._keys = keys
        self._nodes = nodes
        self.instance_id = instance_id or new_id("gw")
        self.reply_channel = keys.reply_channel(self.instance_id)
        self._pending: dict[str, asyncio.Future[CommandReply]] = {}
        self._pubsub = r.pubsub()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Subscribe and wait for Redis to confirm, so no reply can arrive before we listen."""
        await self._pubsub.subscribe(self.reply_channel)
        while True:
            message = await self._pubsub.get_message(timeout=5.0)
            if message is None:
                raise RuntimeError("Redis did not confirm the reply channel subscription")
            if message["type"] == "subscribe":
                break
        self._task = asyncio.get_running_loop().create_task(self._listen())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        for future in self._pending.values():
            future.cancel()
        await self._pubsub.aclose()

    async def _listen(self) -> None:
        while True:
            try:
                async for message in self._pubsub.listen():
                    if message["type"] == "message":
                        self._deliver(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception:
                # redis-py reconnects and resubscribes on the next read; replies sent in the
                # gap are lost and their commands end in 504.
                log.warning("reply channel connection lost; resubscribing", exc_info=True)
                await asyncio.sleep(0.5)

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
    ) -> CommandReply:
        """Run a command on the charger's node; 409 offline, 503 node unreachable, 504 no reply."""
        node, online = await self._redis.hmget(self._keys.charger(charger_id), [F.NODE, F.ONLINE])
        if online != "1" or node is None or node not in self._nodes.alive:
            raise ApiError(409, "the charger is not connected")
        request = CommandRequest(
            id=new_id("cmd"),
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
            receivers = await self._redis.publish(
                self._keys.node_channel(str(node)), request.model_dump_json()
            )
            if receivers == 0:
                raise ApiError(
                    503,
                    "the charger's csms node is unreachable; retry later",
                    extra={"commandId": request.id},
                )
            try:
                return await asyncio.wait_for(future, timeout + REPLY_MARGIN)
            except TimeoutError:
                raise ApiError(
                    504,
                    "no answer from the charger's csms node in time",
                    extra={"commandId": request.id},
                ) from None
        finally:
            del self._pending[request.id]


def result(reply: CommandReply, charger_id: str, action: str) -> dict[str, Any]:
    """The 200 body for a charger's answer, or the ApiError its outcome stands for."""
    extra = {"commandId": reply.id, "outcome": reply.outcome.value}
    match reply.outcome:
        case Outcome.ACCEPTED | Outcome.REJECTED:
            return {
                "commandId": reply.id,
                "chargerId": charger_id,
                "action": action,
                "status": "Accepted" if reply.outcome is Outcome.ACCEPTED else "Rejected",
                "outcome": reply.outcome.value,
                "ocppAction": reply.ocpp_action,
                "chargerResponse": reply.response,
            }
        case Outcome.EVSE_OFFLINE:
            raise ApiError(409, reply.message or "the charger is not connected", extra=extra)
        case Outcome.NOT_SUPPORTED:
            raise ApiError(
                409,
                reply.message or "the command does not apply to the charger's state",
                extra=extra,
            )
        case Outcome.TIMEOUT:
            raise ApiError(504, reply.message or "the charger did not answer in time", extra=extra)
        case Outcome.FAILED:
            response = reply.response or {}
            detail = ": ".join(
                str(v) for v in (response.get("errorCode"), response.get("description")) if v
            )
            raise ApiError(
                502, f"the charger answered with an error: {detail or 'unspecified'}", extra=extra
            )
    raise ApiError(502, f"unexpected command outcome {reply.outcome}", extra=extra)
