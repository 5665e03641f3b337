"""The protocol-independent half of a simulated charger: connection, CALL routing and timers."""

from __future__ import annotations

import asyncio
import base64
import itertools
import logging
import math
import random
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import quote

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.typing import Subprotocol

from shared import framing
from shared.framing import Payload

log = logging.getLogger(__name__)

Handler = Callable[[Payload], Payload]

OPERATIVE = "Operative"
INOPERATIVE = "Inoperative"


def iso_now() -> str:
    """The current UTC time as ISO 8601 with milliseconds and a 'Z' suffix."""
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


def format_seconds(seconds: float) -> str:
    """A configuration value for an interval: '60' rather than '60.0'."""
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


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


@dataclass(slots=True)
class Transaction:
    """One charging session on a connector (OCPP 1.6) or EVSE (OCPP 2.0.1)."""

    connector: int
    id_tag: str
    id_token_type: str = "Central"
    remote: bool = False
    remote_start_id: int | None = None
    # None until the central system assigns one (1.6); a uuid string from the start (2.0.1).
    id: str | int | None = None
    charging: bool = False
    seq_no: int = 0


class SimCharger:
    """Base simulated charger; subclasses add the version-specific messages and handlers."""

    PROTOCOL: ClassVar[str] = ""
    # OCPP 1.6 reports connector 0 (the whole charger); 2.0.1 has no EVSE 0 status.
    STATUS_ZERO: ClassVar[bool] = False
    # The CALLERROR code for a payload that misses required fields ("FormationViolation" in 1.6).
    FORMAT_VIOLATION: ClassVar[str] = "FormatViolation"

    def __init__(
        self,
        charger_id: str,
        url: str,
        protocol: str | None = None,
        password: str | None = None,
        connectors: int = 1,
        power_w: float = 11000.0,
        meter_interval: float = 1.0,
        vendor: str = "EVCS",
        model: str = "SimCharger",
        idle_report_interval: float | None = None,
        reconnect_delay: float = 1.0,
        reconnect_max_delay: float = 30.0,
        call_timeout: float = 30.0,
    ) -> None:
        if protocol is not None and protocol != self.PROTOCOL:
            raise ValueError(f"{type(self).__name__} speaks {self.PROTOCOL}, not {protocol}")
        if connectors < 1:
            raise ValueError("a charger needs at least one connector")
        if meter_interval <= 0:
            raise ValueError("meter_interval must be positive")
        self.charger_id = charger_id
        self.url = url
        self.protocol = self.PROTOCOL
        self.password = password
        self.connectors = connectors
        self.power_w = power_w
        self.meter_interval = meter_interval
        self.vendor = vendor
        self.model = model
        self.idle_report_interval = idle_report_interval
        self.reconnect_delay = reconnect_delay
        self.reconnect_max_delay = reconnect_max_delay
        self.call_timeout = call_timeout
        self.heartbeat_interval: float = 60.0

        # Observable state.
        self.booted = False
        self.boot_count = 0
        ids = self.status_ids()
        self.connector_status: dict[int, str] = {c: "Available" for c in ids}
        self.availability: dict[int, str] = {c: OPERATIVE for c in (0, *self.connector_ids())}
        self.transactions: dict[int, Transaction] = {}
        self.meters: dict[int, float] = {c: 0.0 for c in self.connector_ids()}
        self.received: list[tuple[str, Payload]] = []
        self.handlers: dict[str, Handler] = {}

        # I/O.
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
        self._setup()

    def _setup(self) -> None:
        """Hook for subclasses: register handlers and version-specific state."""

    # ----------------------------------------------------------------- public API

    @property
    def connected(self) -> bool:
        """Whether a WebSocket connection is open right now."""
        return self._ws is not None

    @property
    def transaction_id(self) -> str | int | None:
        """The id of the transaction on connector/EVSE 1 (or else the first one), if any."""
        tx = self.transactions.get(1) or next(iter(self.transactions.values()), None)
        return None if tx is None else tx.id

    @property
    def meter_wh(self) -> float:
        """Energy delivered so far over all connectors, in Wh."""
        return sum(self.meters.values())

    def connector_ids(self) -> range:
        """Connector ids (1.6) or EVSE ids (2.0.1), from 1."""
        return range(1, self.connectors + 1)

    def status_ids(self) -> list[int]:
        """The ids this charger reports a status for."""
        return [0, *self.connector_ids()] if self.STATUS_ZERO else list(self.connector_ids())

    async def start(self, timeout: float | None = 30.0) -> None:
        """Connect and boot; returns once booted Accepted and the statuses are sent."""
        if self._run_task is not None:
            raise RuntimeError(f"{self.charger_id} is already started")
        self._stopping = False
        self._first_boot = asyncio.get_running_loop().create_future()
        self._run_task = asyncio.create_task(self._run(), name=f"sim:{self.charger_id}")
        self._spawn(self._meter_loop())
        if self.idle_report_interval:
            self._spawn(self._idle_loop(self.idle_report_interval))
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

    async def start_transaction(self, connector: int = 1, id_tag: str = "SIMTAG") -> Transaction:
        """Start a local session (as if a driver badged in) and wait until it is reported."""
        if not self.can_start(connector):
            raise RuntimeError(f"{self.charger_id}: connector {connector} cannot start now")
        tx = self._open_transaction(connector, id_tag)
        await self._begin(tx)
        return tx

    async def stop_transaction(self, connector: int = 1, reason: str = "Local") -> None:
        """End the session on `connector` and wait until it is reported."""
        tx = self.transactions.pop(connector, None)
        if tx is None:
            raise RuntimeError(f"{self.charger_id}: no transaction on connector {connector}")
        tx.charging = False
        await self._end(tx, reason)

    # ----------------------------------------------------- for the protocol classes

    def boot_payload(self) -> Payload:
        """The BootNotification request."""
        raise NotImplementedError

    async def send_status(self, connector: int) -> None:
        """Report connector_status[connector] with a StatusNotification."""
        raise NotImplementedError

    async def send_meter_values(self, tx: Transaction) -> None:
        """Report the meter of a charging transaction (sent every meter_interval)."""
        raise NotImplementedError

    async def send_idle_report(self, connector: int) -> None:
        """Report status and meter of an idle connector (sent every idle_report_interval)."""
        raise NotImplementedError

    async def _begin(self, tx: Transaction) -> None:
        """Report a newly opened transaction to the central system."""
        raise NotImplementedError

    async def _end(self, tx: Transaction, reason: str) -> None:
        """Report a transaction that was just removed from `transactions`."""
        raise NotImplementedError

    def can_start(self, connector: int) -> bool:
        """Whether a session could start on `connector` now."""
        return (
            connector in self.meters
            and connector not in self.transactions
            and self.is_operative(connector)
            and self.connector_status.get(connector) in ("Available", "Preparing")
        )

    def is_operative(self, connector: int) -> bool:
        """Whether both the charger and this connector are set Operative."""
        return self.availability[0] == OPERATIVE and self.availability[connector] == OPERATIVE

    def idle_status(self, connector: int) -> str:
        """The status of a connector without a session."""
        if connector == 0:
            return "Available" if self.availability[0] == OPERATIVE else "Unavailable"
        return "Available" if self.is_operative(connector) else "Unavailable"

    async def set_status(self, connector: int, status: str) -> None:
        """Change a connector's status and report it."""
        self.connector_status[connector] = status
        await self.send_status(connector)

    def _open_transaction(
        self, connector: int, id_tag: str, remote: bool = False, **fields: Any
    ) -> Transaction:
        tx = Transaction(connector, id_tag, remote=remote, **fields)
        self.transactions[connector] = tx
        return tx

    @asynccontextmanager
    async def _undo_on_failure(self, tx: Transaction) -> AsyncIterator[None]:
        """Forget a session whose start could not be reported, so the connector is free again."""
        try:
            yield
        except (NotConnected, CallError, TimeoutError):
            if self.transactions.get(tx.connector) is tx:
                del self.transactions[tx.connector]
                self.connector_status[tx.connector] = self.idle_status(tx.connector)
            raise

    def _remote_stop(self, transaction_id: object, reason: str) -> bool:
        """From a handler: end the transaction with this id after the reply; False if unknown."""
        for connector, tx in self.transactions.items():
            if tx.id is not None and tx.id == transaction_id:
                del self.transactions[connector]
                tx.charging = False
                self.after_reply(self._end(tx, reason))
                return True
        return False

    def _change_availability(self, connectors: Iterable[int], whole: bool, operative: bool) -> str:
        """From a handler: apply an availability change; 'Scheduled' if a session must end first."""
        value = OPERATIVE if operative else INOPERATIVE
        targets = list(connectors)
        if whole:
            self.availability[0] = value
        for c in targets:
            self.availability[c] = value
        # Busy connectors keep charging; _end reports their new status when the session ends.
        idle = [c for c in targets if c not in self.transactions]
        self.after_reply(self._report_statuses(([0] if whole and self.STATUS_ZERO else []) + idle))
        return "Accepted" if len(idle) == len(targets) else "Scheduled"

    async def _report_statuses(self, connectors: Iterable[int]) -> None:
        for c in connectors:
            await self.set_status(c, self.idle_status(c))

    async def _reset(self, reason: str, boot_reason: str | None = None) -> None:
        """End all sessions, then drop the connection so the charger reconnects and boots."""
        for connector in list(self.transactions):
            await self.stop_transaction(connector, reason)
        self._on_reset(boot_reason)
        ws = self._ws
        if ws is not None:
            await ws.close()

    def _on_reset(self, boot_reason: str | None) -> None:
        """Hook: remember why the next BootNotification is sent."""

    def _on_boot_response(self, response: Payload) -> None:
        """Take the heartbeat interval from a BootNotification response."""
        interval = response.get("interval")
        if isinstance(interval, int) and interval > 0:
            self.heartbeat_interval = float(interval)

    # Settings that are live attributes rather than stored strings.
    def _read_interval(self, name: str) -> str | None:
        if name == "HeartbeatInterval":
            return format_seconds(self.heartbeat_interval)
        if name == "MeterValueSampleInterval":
            return format_seconds(self.meter_interval)
        return None

    def _write_interval(self, name: str, value: str) -> bool:
        try:
            seconds = float(value)
        except ValueError:
            return False
        if not (math.isfinite(seconds) and seconds > 0):
            return False
        if name == "HeartbeatInterval":
            self.heartbeat_interval = seconds
        else:
            self.meter_interval = seconds
        return True

    # ------------------------------------------------------------------ internals

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
        """One connection: boot, report statuses, heartbeat, until the connection closes."""
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
                await self._boot()
                self._attempt = 0
                self.booted = True
                self.boot_count += 1
                for c in self.status_ids():
                    await self.send_status(c)
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

    async def _boot(self) -> None:
        while True:
            response = await self.call("BootNotification", self.boot_payload())
            self._on_boot_response(response)
            status = response.get("status")
            if status == "Accepted":
                return
            first = self._first_boot is not None and not self._first_boot.done()
            if status == "Rejected" and first:
                raise BootRejected(f"{self.charger_id}: BootNotification rejected")
            # Pending, or Rejected after an earlier boot: retry after the interval, as chargers do.
            interval = response.get("interval")
            retry = interval if isinstance(interval, int) and interval > 0 else self.reconnect_delay
            await asyncio.sleep(retry)

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
                elif isinstance(frame, framing.CallResult):
                    pending[1].set_result(frame.payload)
                else:
                    pending[1].set_exception(
                        CallError(frame.code or "GenericError", frame.description, frame.details)
                    )
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

    async def _meter_loop(self) -> None:
        # Energy accrues while offline too, as on a real meter; it is only reported when booted.
        while True:
            interval = self.meter_interval
            await asyncio.sleep(interval)
            for tx in list(self.transactions.values()):
                if not tx.charging:
                    continue
                self.meters[tx.connector] += self.power_w * interval / 3600.0
                if self.booted:
                    try:
                        await self.send_meter_values(tx)
                    except (NotConnected, CallError, TimeoutError) as exc:
                        log.info("%s: meter values failed: %r", self.charger_id, exc)

    async def _idle_loop(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            if not self.booted:
                continue
            for c in self.connector_ids():
                if c in self.transactions:
                    continue
                try:
                    await self.send_idle_report(c)
                except (NotConnected, CallError, TimeoutError) as exc:
                    log.info("%s: idle report failed: %r", self.charger_id, exc)


def _close_all(coros: Iterable[Coroutine[Any, Any, Any]]) -> None:
    for coro in coros:
        coro.close()  # closed, not awaited, so Python does not warn about it
