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

# TriggerMessage's requestedMessage -> the CALL the charger then sends (where they differ)
_TRIGGERED_ACTION = {
    "SignChargingStationCertificate": "SignCertificate",
    "SignV2GCertificate": "SignCertificate",
    "SignCombinedCertificate": "SignCertificate",
}


class ChargerOffline(Exception):
    """The charger's connection closed before it answered.

    `sent` says whether the CALL went out; one that did not may be tried on a newer connection.
    """

    def __init__(self, sent: bool) -> None:
        super().__init__("the charger's connection is closed")
        self.sent = sent


def iso(epoch: float) -> str:
    return (
        datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def triggered_action(requested_message: str) -> str:
    return _TRIGGERED_ACTION.get(requested_message, requested_message)


class ChargerConnection:
    def __init__(self, ws: ServerConnection, session: Session, node: Node) -> None:
        self.ws = ws
        self.session = session
        self.node = node
        self.codes = CODES[session.protocol]
        self.handlers = node.handlers[session.protocol]
        self.validators = node.validators[session.protocol]
        self.closed = False
        self._pending: dict[str, asyncio.Future[CallResult | CallError]] = {}
        self._call_lock = asyncio.Lock()
        self.queued = 0  # commands waiting for the one outstanding CALL to be answered
        # The latest CALL and its answer. A charger has one CALL outstanding, so a CALL it sends
        # again with the same id (a retry while the first was in flight) is always this one: the
        # repeat gets the same answer and the handler runs once.
        self._last: tuple[str, str | bytes, str] | None = None
        self.idle = asyncio.Event()  # clear while a CALL is being answered
        self.idle.set()

    @property
    def charger_id(self) -> str:
        return self.session.charger_id

    async def serve(self) -> None:
        """Handle frames, one at a time and in order, until the connection closes."""
        try:
            async for data in self.ws:
                await self._on_frame(data)
        except ConnectionClosed:
            pass
        finally:
            self.closed = True
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(ChargerOffline(sent=True))

    async def _on_frame(self, data: str | bytes) -> None:
        try:
            frame = framing.parse(data, self.codes)
        except framing.FrameError as exc:
            if exc.answerable:
                assert exc.message_id is not None
                await self._reply(framing.call_error(exc.message_id, exc.code, exc.description))
            elif exc.message_id is not None:
                # A broken answer to one of our CALLs: its command fails now, not at its timeout.
                self._settle(CallError(exc.message_id, exc.code, exc.description, {}))
            return
        if isinstance(frame, Call):
            await self._on_call(frame, data)
            return
        self._settle(frame)

    def _settle(self, answer: CallResult | CallError) -> None:
        fut = self._pending.get(answer.id)
        if fut is not None and not fut.done():
            fut.set_result(answer)
        # an answer to no outstanding CALL is ignored, as OCPP-J says

    async def _on_call(self, call: Call, data: str | bytes) -> None:
        if self.node.closing:
            # Shutting down: neither stored nor answered, so the charger sends it again to its
            # next node and it is stored once (an answer now could not reach it anyway).
            return
        last = self._last
        if last is not None and last[0] == call.id and last[1] == data:
            await self._reply(last[2])
            return
        self.idle.clear()
        try:
            try:
                reply = await self._answer(call)
            except Exception:
                # whatever a frame holds, the connection and the node carry on
                log.exception(
                    "CALL failed", extra={"charger_id": self.charger_id, "action": call.action}
                )
                reply = framing.call_error(call.id, self.codes.internal, "internal error")
            if reply.startswith("[3,"):  # a failure is not replayed: the retry may succeed
                self._last = (call.id, data, reply)
            await self._reply(reply)
        finally:
            self.idle.set()

    async def _reply(self, frame: str) -> None:
        try:
            await self.ws.send(frame)
        except ConnectionClosed:
            # The charger has gone; the frames it sent before it left are still read (an answer
            # to one of our CALLs among them), and then the loop ends.
            pass

    async def _answer(self, call: Call) -> str:
        s, codes = self.session, self.codes
        handler = self.handlers.get(call.action)
        if handler is None:
            known = schemas.known(s.protocol, call.action)
            code = codes.not_supported if known else codes.not_implemented
            return framing.call_error(call.id, code, f"{call.action} is not supported")
        if not s.boot_accepted and call.action != "BootNotification":
            if call.action not in s.triggered:
                return framing.call_error(
                    call.id, codes.security, "BootNotification not accepted yet"
                )
        check = self.validators[call.action]
        if check is not None:
            problem = schemas.check(check, call.payload, codes)
            if problem is not None:
                return framing.call_error(call.id, problem[0], problem[1])
        now = time.time()
        node = self.node
        settings = node.settings
        ctx = Context(
            s,
            now,
            iso(now),
            settings.heartbeat_interval,
            settings.boot_unknown,
            settings.boot_retry_interval,
        )
        result = handler(ctx, call.payload)
        outcome: Outcome = await result if inspect.isawaitable(result) else result
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
        async with asyncio.timeout(timeout):
            self.queued += 1
            try:
                await self._call_lock.acquire()
            finally:
                self.queued -= 1
            try:
                return await self._send_call(action, payload)
            finally:
                self._call_lock.release()

    async def _send_call(self, action: str, payload: dict[str, Any]) -> CallResult | CallError:
        if self.closed:
            raise ChargerOffline(sent=False)
        message_id = uuid.uuid4().hex
        fut: asyncio.Future[CallResult | CallError] = asyncio.get_running_loop().create_future()
        self._pending[message_id] = fut
        try:
            try:
                await self.ws.send(framing.call(message_id, action, payload))
            except ConnectionClosed:
                raise ChargerOffline(sent=False) from None
            return await fut
        finally:
            self._pending.pop(message_id, None)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self.ws.close(code, reason)
