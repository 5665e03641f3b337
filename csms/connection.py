"""One charger's WebSocket: frames in, answers out, and CALLs from the central system."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from csms import framing, schemas
from csms.framing import CODES, Call, CallError, CallResult
from csms.session import Context, Outcome, Session
from shared.redis_keys import F

if TYPE_CHECKING:
    from csms.node import Node

log = logging.getLogger(__name__)


class ChargerOffline(Exception):
    """The charger's connection closed before it answered."""


def iso(epoch: float) -> str:
    return (
        datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


class ChargerConnection:
    def __init__(self, ws: ServerConnection, session: Session, node: Node) -> None:
        self.ws = ws
        self.session = session
        self.node = node
        self.codes = CODES[session.protocol]
        self.handlers = node.handlers[session.protocol]
        self._pending: dict[str, asyncio.Future[CallResult | CallError]] = {}
        self._call_lock = asyncio.Lock()

    @property
    def charger_id(self) -> str:
        return self.session.charger_id

    async def serve(self) -> None:
        """Handle frames until the connection closes."""
        try:
            async for data in self.ws:
                await self._on_frame(data)
        except ConnectionClosed:
            pass
        finally:
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(ChargerOffline())

    async def _on_frame(self, data: str | bytes) -> None:
        try:
            frame = framing.parse(data, self.codes)
        except framing.FrameError as exc:
            if exc.message_id is not None:
                await self.ws.send(framing.call_error(exc.message_id, exc.code, exc.description))
            return
        if isinstance(frame, Call):
            await self._on_call(frame)
            return
        fut = self._pending.get(frame.id)
        if fut is not None and not fut.done():
            fut.set_result(frame)

    async def _on_call(self, call: Call) -> None:
        reply = await self._answer(call)
        await self.ws.send(reply)

    async def _answer(self, call: Call) -> str:
        s, codes = self.session, self.codes
        handler = self.handlers.get(call.action)
        if handler is None:
            known = schemas.validator(s.protocol, call.action) is not None
            code = codes.not_supported if known else codes.not_implemented
            return framing.call_error(call.id, code, f"{call.action} is not supported")
        if not s.boot_accepted and call.action != "BootNotification":
            return framing.call_error(call.id, codes.security, "BootNotification not accepted yet")
        problem = schemas.violation(s.protocol, call.action, call.payload, codes)
        if problem is not None:
            return framing.call_error(call.id, problem[0], problem[1])
        now = time.time()
        node = self.node
        ctx = Context(
            s, now, iso(now), node.settings.heartbeat_interval, node.settings.boot_unknown
        )
        try:
            result = handler(ctx, call.payload)
            outcome: Outcome = await result if inspect.isawaitable(result) else result
        except Exception:
            log.exception(
                "handler failed", extra={"charger_id": s.charger_id, "action": call.action}
            )
            return framing.call_error(
                call.id, codes.internal, "the central system failed to handle it"
            )
        outcome.fields[F.SEEN] = repr(now)
        try:
            await node.writer.write(s.charger_id, outcome.fields, outcome.events)
        except Exception:
            # Never acknowledge what is not stored: the charger keeps it and retries.
            return framing.call_error(call.id, codes.internal, "could not store the message; retry")
        node.metrics_message(s.protocol, call.action)
        return framing.call_result(call.id, outcome.response)

    async def call(
        self, action: str, payload: dict[str, Any], timeout: float
    ) -> CallResult | CallError:
        """Send a CALL and wait for its answer; one at a time per charger, as OCPP requires.

        The timeout covers waiting behind earlier commands too, so the caller hears back in time.
        """
        async with asyncio.timeout(timeout), self._call_lock:
            message_id = uuid.uuid4().hex
            fut: asyncio.Future[CallResult | CallError] = asyncio.get_running_loop().create_future()
            self._pending[message_id] = fut
            try:
                try:
                    await self.ws.send(framing.call(message_id, action, payload))
                except ConnectionClosed:
                    raise ChargerOffline() from None
                return await fut
            finally:
                self._pending.pop(message_id, None)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self.ws.close(code, reason)
