"""The OCPP-J client side of a simulated charger: connect (and reconnect with backoff), send
CALLs one at a time and wait for their answers, route the central system's CALLs to handlers,
heartbeat. What a charger does with all that is in simulators/charger.py."""

from __future__ import annotations

import asyncio
import base64
import itertools
import logging
import random
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, ClassVar
from urllib.parse import quote

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.typing import Subprotocol

from shared import framing
from shared.framing import Payload

log = logging.getLogger(__name__)

Handler = Callable[[Payload], Payload]


class CallError(Exception):
    """The other side answered a CALL with a CALLERROR (or a handler wants to send one)."""

    def __init__(self, code: str, description: str = "", details: Payload | None = None) -> None:
        super().__init__(f"{code}: {description}" if description else code)
        self.code = code
        self.description = description
        self.details = details or {}


class BootRejected(Exception):
    """The central system answered the first BootNotification with Rejected."""


class ConnectionRejected(Exception):
    """The central system refused the WebSocket handshake (HTTP 4xx or no OCPP subprotocol)."""


class NotConnected(ConnectionError):
    """A CALL was attempted, or was pending, while there was no open connection."""


class ChargerLink:
    """One charger's connection to its central system."""

    PROTOCOL: ClassVar[str] = ""
    # The CALLERROR code for a payload that misses required fields ("FormationViolation" in 1.6).
    FORMAT_VIOLATION: ClassVar[str] = "FormatViolation"

    def __init__(
        self,
        charger_id: str,
        url: str,
        password: str | None,
        reconnect_delay: float,
        reconnect_max_delay: float,
        call_timeout: float,
    ) -> None:
        self.charger_id = charger_id
        self.url = url
        self.protocol = self.PROTOCOL
        self.password = password
        self.reconnect_delay = reconnect_delay
        self.reconnect_max_delay = reconnect_max_delay
        self.call_timeout = call_timeout
        self.heartbeat_interval: float = 60.0
        self.booted = False
        self.received: list[tuple[str, Payload]] = []
        self.handlers: dict[str, Handler] = {}
        self._ws_url = f"{url.rstrip('/')}/{quote(charger_id, safe='')}"
        self._headers: dict[str, str] = {}
        if password is not None:
            token = base64.b64encode(f"{charger_id}:{password}".encode()).decode()
            self._headers["Authorization"] = f"Basic {token}"
        self._ws: ClientConnection | None = None
        self._ids = itertools.count(1)
        self._call_lock = asyncio.Lock()
        self._pending: tuple[str, asyncio.Future[Payload]] | None = None
        self._deferred: list[Coroutine[Any, Any, Any]] = []
        self._run_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._first_boot: asyncio.Future[None] | None = None
        self._stopping = False
        self._attempt = 0

    @property
    def connected(self) -> bool:
        """Whether a WebSocket connection is open right now."""
        return self._ws is not None

    def _loops(self) -> list[Coroutine[Any, Any, None]]:
        """Hook: what runs beside the connection for the charger's whole life (its meter)."""
        return []

    async def _boot_and_report(self) -> None:
        """Hook: what a new connection does first (boot, then report every status)."""

    async def start(self, timeout: float | None = 30.0) -> None:
        """Connect and boot; returns once booted Accepted and the statuses are sent."""
        if self._run_task is not None:
            raise RuntimeError(f"{self.charger_id} is already started")
        self._stopping = False
        self._first_boot = asyncio.get_running_loop().create_future()
        self._run_task = asyncio.create_task(self._run(), name=f"sim:{self.charger_id}")
        for loop in self._loops():
            self._spawn(loop)
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(self._first_boot)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Close the connection cleanly and cancel every task of this charger."""
        self._stopping = True
        ws = self._ws
        if ws is not None:
            try:
                await ws.close()
            except Exception:  # closing is best effort; the tasks are cancelled anyway
                log.debug("%s: close failed", self.charger_id, exc_info=True)
        tasks = [t for t in (self._run_task, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._run_task = None
        self._tasks.clear()
        self.booted = False

    async def call(
        self,
        action: str,
        payload: Payload,
        timeout: float | None = None,
    ) -> Payload:
        """Send one CALL and return the CALLRESULT payload; raises CallError on a CALLERROR."""
        # OCPP allows one outstanding CALL per direction, so CALLs queue on this lock.
        async with self._call_lock:
            ws = self._ws
            if ws is None:
                raise NotConnected(f"{self.charger_id}: not connected")
            msg_id = str(next(self._ids))
            future: asyncio.Future[Payload] = asyncio.get_running_loop().create_future()
            self._pending = (msg_id, future)
            try:
                await ws.send(framing.call(msg_id, action, payload))
                async with asyncio.timeout(timeout or self.call_timeout):
                    return await future
            except ConnectionClosed as exc:
                raise NotConnected(f"{self.charger_id}: connection closed") from exc
            finally:
                self._pending = None
                if future.done() and not future.cancelled():
                    # The reader may fail the future while send() is still raising; mark the
                    # exception retrieved so asyncio does not log it.
                    future.exception()

    def after_reply(self, coro: Coroutine[Any, Any, Any]) -> None:
        """From a handler: run `coro` once the reply to the current CALL has been sent."""
        self._deferred.append(coro)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if isinstance(exc, NotConnected | TimeoutError | CallError):
            log.info("%s: background message failed: %r", self.charger_id, exc)
        elif exc is not None:
            log.error("%s: background task failed", self.charger_id, exc_info=exc)

    def _fail_start(self, exc: BaseException) -> bool:
        """Make start() raise `exc` if it is still waiting; True if it was."""
        if self._first_boot is not None and not self._first_boot.done():
            self._first_boot.set_exception(exc)
            return True
        return False

    async def _run(self) -> None:
        """Connect, serve and reconnect with jittered exponential backoff until stopped."""
        while not self._stopping:
            try:
                await self._serve()
            except (BootRejected, ConnectionRejected) as exc:
                if self._fail_start(exc):
                    return
                log.warning("%s: %s", self.charger_id, exc)
            except InvalidStatus as exc:
                status = exc.response.status_code
                if 400 <= status < 500 and self._fail_start(ConnectionRejected(str(exc))):
                    return
                log.warning("%s: %s", self.charger_id, exc)
            except (OSError, TimeoutError, InvalidHandshake, ConnectionClosed, CallError) as exc:
                log.info("%s: connection lost: %r", self.charger_id, exc)
            except Exception:
                log.exception("%s: session failed", self.charger_id)
            if self._stopping:
                return
            # Jitter spreads the reconnects of many chargers after a central system restart.
            cap = min(self.reconnect_max_delay, self.reconnect_delay * 2**self._attempt)
            self._attempt += 1
            await asyncio.sleep(cap * random.uniform(0.5, 1.0))

    async def _serve(self) -> None:
        """One connection: boot and report, heartbeat, until the connection closes."""
        async with connect(
            self._ws_url,
            subprotocols=[Subprotocol(self.protocol)],
            additional_headers=self._headers,
            open_timeout=self.call_timeout,
            close_timeout=2,
            compression=None,  # chargers rarely negotiate it, and it costs CPU under load
        ) as ws:
            if ws.subprotocol != self.protocol:
                raise ConnectionRejected(f"server did not accept subprotocol {self.protocol}")
            self._ws = ws
            reader = asyncio.create_task(self._read_loop(ws))
            heartbeat: asyncio.Task[None] | None = None
            try:
                await self._boot_and_report()
                self._attempt = 0
                if self._first_boot is not None and not self._first_boot.done():
                    self._first_boot.set_result(None)
                log.debug("%s: booted (%s)", self.charger_id, self.protocol)
                heartbeat = asyncio.create_task(self._heartbeat_loop())
                await reader
            finally:
                self.booted = False
                self._ws = None
                for task in (reader, heartbeat):
                    if task is not None:
                        task.cancel()

    async def _read_loop(self, ws: ClientConnection) -> None:
        try:
            codes = framing.CODES[self.protocol]
            async for data in ws:
                try:
                    frame = framing.parse(data, codes)
                except framing.FrameError as exc:
                    log.warning("%s: bad frame: %s", self.charger_id, exc)
                    if exc.answerable and exc.message_id is not None:
                        await ws.send(framing.call_error(exc.message_id, exc.code, str(exc)))
                    continue
                if isinstance(frame, framing.Call):
                    await self._answer(ws, frame)
                    continue
                pending = self._pending
                if pending is None or pending[0] != frame.id or pending[1].done():
                    log.debug("%s: reply to no pending call: %s", self.charger_id, frame.id)
                else:
                    if isinstance(frame, framing.CallResult):
                        pending[1].set_result(frame.payload)
                    else:
                        pending[1].set_exception(
                            CallError(
                                frame.code or "GenericError", frame.description, frame.details
                            )
                        )
                    # A charger acts on a reply before it reads the next frame: let the caller
                    # take it (a StartTransaction's transaction id) before, say, a
                    # RemoteStopTransaction for that transaction, sent right behind it, is read.
                    await asyncio.sleep(0)
        except ConnectionClosed:
            pass
        finally:
            pending = self._pending
            if pending is not None and not pending[1].done():
                pending[1].set_exception(NotConnected(f"{self.charger_id}: connection closed"))

    async def _answer(self, ws: ClientConnection, frame: framing.Call) -> None:
        action = frame.action
        self.received.append((action, frame.payload))
        handler = self.handlers.get(action)
        self._deferred = []
        ok = False
        if handler is None:
            reply = framing.call_error(frame.id, "NotImplemented", f"{action} is not supported")
        else:
            try:
                reply = framing.call_result(frame.id, handler(frame.payload))
                ok = True
            except CallError as exc:
                reply = framing.call_error(frame.id, exc.code, exc.description, exc.details)
            except (KeyError, TypeError, ValueError) as exc:
                reply = framing.call_error(frame.id, self.FORMAT_VIOLATION, f"bad payload: {exc!r}")
            except Exception:
                log.exception("%s: handler for %s failed", self.charger_id, action)
                reply = framing.call_error(frame.id, "InternalError", f"{action} failed")
        deferred, self._deferred = self._deferred, []
        if not ok:
            _close_all(deferred)  # a failed handler's follow-ups must not run
            deferred = []
        try:
            await ws.send(reply)
        except ConnectionClosed:
            _close_all(deferred)
            raise
        # Follow-ups run as tasks because they make CALLs whose replies this loop must read.
        for coro in deferred:
            self._spawn(coro)

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            try:
                await self.call("Heartbeat", {})
            except NotConnected:
                return
            except (CallError, TimeoutError) as exc:
                log.info("%s: heartbeat failed: %r", self.charger_id, exc)


def _close_all(coros: Iterable[Coroutine[Any, Any, Any]]) -> None:
    for coro in coros:
        coro.close()  # closed, not awaited, so Python does not warn about it
