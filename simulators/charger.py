"""The protocol-independent half of a simulated charger: its connectors, sessions, meter,
availability, reservations, charging profiles, reset, long operations (a firmware update, a log
upload) and timers, over the connection of simulators/link.py."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

from shared.framing import Payload
from simulators.clock import iso_now
from simulators.link import (
    BootRejected,
    CallError,
    ChargerLink,
    ConnectionRejected,
    Handler,
    NotConnected,
)
from simulators.reservations import Reservation, reserve_answer
from simulators.smart_charging import Period, ProfileStore

log = logging.getLogger(__name__)

__all__ = [
    "BootRejected",
    "CallError",
    "ConnectionRejected",
    "Handler",
    "NotConnected",
    "SimCharger",
    "Transaction",
    "iso_now",
]

OPERATIVE = "Operative"
INOPERATIVE = "Inoperative"


def format_seconds(seconds: float) -> str:
    """A configuration value for an interval: '60' rather than '60.0'."""
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


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
    reservation_id: int | None = None  # the reservation this session took up
    started_at: float = field(default_factory=time.time)
    # Set once its start's report has its answer (or failed): its end is reported after it,
    # with the 1.6 transaction id the answer gave.
    reported: asyncio.Event = field(default_factory=asyncio.Event)


class SimCharger(ChargerLink):
    """Base simulated charger; subclasses add the version-specific messages and handlers."""

    # OCPP 1.6 reports connector 0 (the whole charger); 2.0.1 has no EVSE 0 status.
    STATUS_ZERO: ClassVar[bool] = False

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
        step_delay: float = 1.0,
        firmware_version: str = "evcs-sim",
    ) -> None:
        if protocol is not None and protocol != self.PROTOCOL:
            raise ValueError(f"{type(self).__name__} speaks {self.PROTOCOL}, not {protocol}")
        if connectors < 1:
            raise ValueError("a charger needs at least one connector")
        if meter_interval <= 0:
            raise ValueError("meter_interval must be positive")
        super().__init__(
            charger_id, url, password, reconnect_delay, reconnect_max_delay, call_timeout
        )
        self.connectors = connectors
        self.power_w = power_w
        self.meter_interval = meter_interval
        self.vendor = vendor
        self.model = model
        self.idle_report_interval = idle_report_interval
        # Seconds each step of a long operation takes (a firmware download or install, a log
        # upload); short in tests.
        self.step_delay = step_delay
        self.firmware_version = firmware_version

        # Observable state.
        self.boot_count = 0
        ids = self.status_ids()
        self.connector_status: dict[int, str] = {c: "Available" for c in ids}
        self.availability: dict[int, str] = {c: OPERATIVE for c in (0, *self.connector_ids())}
        self.transactions: dict[int, Transaction] = {}
        self.meters: dict[int, float] = {c: 0.0 for c in self.connector_ids()}
        self.reservations: dict[int, Reservation] = {}  # by reservation id
        self.profiles = ProfileStore(connectors)
        self._idle_waiters: list[asyncio.Future[None]] = []
        # What to send once the next boot is accepted (2.0.1 reports an installed firmware so).
        self._after_boot: list[Callable[[], Coroutine[Any, Any, None]]] = []
        # Long operations by kind ("firmware", "log", ...); a new one replaces the running one.
        self._jobs: dict[str, asyncio.Task[Any]] = {}
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

    async def authorize(self, id_tag: str) -> str:
        """Ask the central system about a token, as a charger does when a driver badges in;
        returns its answer's status (Accepted, Blocked, Expired, Invalid/Unknown, ...). A real
        charger starts no session on anything but Accepted."""
        raise NotImplementedError

    async def start_transaction(self, connector: int = 1, id_tag: str = "SIMTAG") -> Transaction:
        """Start a local session (as if a driver badged in) and wait until it is reported."""
        if not self.can_start(connector, id_tag):
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

    def can_start(self, connector: int, id_tag: str | None = None) -> bool:
        """Whether a session for `id_tag` could start on `connector` now (a reserved one only
        for the identifier it is reserved for)."""
        if not (
            connector in self.meters
            and connector not in self.transactions
            and self.is_operative(connector)
        ):
            return False
        status = self.connector_status.get(connector)
        if status == "Reserved":
            held = self.reservation_on(connector)
            return held is not None and held.id_tag == id_tag
        return status in ("Available", "Preparing")

    def reservation_on(self, connector: int) -> Reservation | None:
        """The reservation holding `connector`, if any."""
        return next((r for r in self.reservations.values() if r.connector == connector), None)

    def is_operative(self, connector: int) -> bool:
        """Whether both the charger and this connector are set Operative."""
        return self.availability[0] == OPERATIVE and self.availability[connector] == OPERATIVE

    def idle_status(self, connector: int) -> str:
        """The status of a connector without a session."""
        if connector == 0:
            return "Available" if self.availability[0] == OPERATIVE else "Unavailable"
        if not self.is_operative(connector):
            return "Unavailable"
        return "Reserved" if self.reservation_on(connector) is not None else "Available"

    async def set_status(self, connector: int, status: str) -> None:
        """Change a connector's status and report it."""
        self.connector_status[connector] = status
        await self.send_status(connector)

    def _open_transaction(
        self, connector: int, id_tag: str, remote: bool = False, **fields: Any
    ) -> Transaction:
        held = self.reservation_on(connector)
        if held is not None and held.id_tag == id_tag:
            # The holder's session takes the reservation up, and ends it.
            del self.reservations[held.id]
            fields["reservation_id"] = held.id
        tx = Transaction(connector, id_tag, remote=remote, **fields)
        self.transactions[connector] = tx
        return tx

    def _ended(self, tx: Transaction) -> None:
        """After a session has been reported ended (or failed to be): what it leaves behind."""
        self.profiles.end_transaction(tx.connector)
        self._wake_if_idle()

    @asynccontextmanager
    async def _undo_on_failure(self, tx: Transaction) -> AsyncIterator[None]:
        """Forget a session whose start could not be reported, so the connector is free again;
        either way its end may be reported from then on."""
        try:
            yield
        except (NotConnected, CallError, TimeoutError):
            if self.transactions.get(tx.connector) is tx:
                del self.transactions[tx.connector]
                self.connector_status[tx.connector] = self.idle_status(tx.connector)
                self._ended(tx)
            raise
        finally:
            tx.reported.set()

    async def _after_start(self, tx: Transaction) -> None:
        """Until the session's start is reported: a stop that came meanwhile (a reset, a
        remote stop) is reported after it, never before, and never left out."""
        with contextlib.suppress(TimeoutError):  # a start never begun: no wait for ever
            await asyncio.wait_for(tx.reported.wait(), 2 * self.call_timeout)  # its two calls

    def _remote_stop(self, transaction_id: object, reason: str) -> bool:
        """From a handler: end the transaction with this id after the reply; False if unknown."""
        for connector, tx in self.transactions.items():
            if tx.id is not None and tx.id == transaction_id:
                return self._stop_after_reply(connector, reason)
        return False

    def _stop_after_reply(self, connector: int, reason: str) -> bool:
        """From a handler: end the session on `connector` after the reply; False if none."""
        tx = self.transactions.pop(connector, None)
        if tx is None:
            return False
        tx.charging = False
        self.after_reply(self._end(tx, reason))
        return True

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

    # ------------------------------------------------------------- reservations

    def _composite(
        self, connector: int, duration: int, unit: str | None, now: float
    ) -> tuple[str, list[Period]] | None:
        """GetCompositeSchedule of either version: the connector's (EVSE's) limits from now;
        None when it does not exist or no profile limits it then."""
        if not 0 <= connector <= self.connectors:
            return None
        tx = self.transactions.get(connector)
        started = None if tx is None else tx.started_at
        return self.profiles.composite(connector, now, duration, unit, started, self.power_w)

    def _reserve(self, reservation: Reservation) -> str:
        """From a handler: hold a connector for an identifier (a reservation with the same id
        is replaced); the ReserveNow answer."""
        old = self.reservations.pop(reservation.id, None)
        c = reservation.connector
        status = self.connector_status.get(c) if c in self.meters else None
        if status == "Reserved" and old is not None and old.connector == c:
            status = "Available"  # held by the very reservation being replaced
        answer = reserve_answer(
            status, c in self.meters and self.is_operative(c), c in self.transactions
        )
        if answer == "Accepted" and reservation.expires_at <= time.time():
            answer = "Rejected"  # expired already
        if answer != "Accepted":
            if old is not None:
                self.reservations[old.id] = old
            return answer
        self.reservations[reservation.id] = reservation
        moved = [old.connector] if old is not None and old.connector != c else []
        for connector in (*moved, c):
            # Set now so that the next CALL, read before the reports go out, sees it.
            self.connector_status[connector] = self.idle_status(connector)
        self.after_reply(self._send_statuses([*moved, c]))
        self._spawn(self._expire_later(reservation))
        return "Accepted"

    def _cancel_reservation(self, reservation_id: int) -> bool:
        """From a handler: free the reserved connector; False for an unknown reservation."""
        reservation = self.reservations.pop(reservation_id, None)
        if reservation is None:
            return False
        c = reservation.connector
        if c not in self.transactions:
            self.connector_status[c] = self.idle_status(c)
            self.after_reply(self._send_statuses([c]))
        return True

    async def _expire_later(self, reservation: Reservation) -> None:
        await self._sleep_until(reservation.expires_at)
        if self.reservations.get(reservation.id) is not reservation:
            return  # taken up, cancelled or replaced meanwhile
        del self.reservations[reservation.id]
        c = reservation.connector
        if c not in self.transactions:
            self.connector_status[c] = self.idle_status(c)
        await self._reservation_expired(reservation)

    async def _reservation_expired(self, reservation: Reservation) -> None:
        """Report the connector of a reservation that expired unused free again."""
        if reservation.connector not in self.transactions:
            await self.send_status(reservation.connector)

    async def _send_statuses(self, connectors: Iterable[int]) -> None:
        for c in connectors:
            await self.send_status(c)

    # --------------------------------------------------- long operations, waits

    def _start_job(self, kind: str, make: Callable[[], Coroutine[Any, Any, None]]) -> bool:
        """From a handler: run a long operation after the reply, in place of the running one
        of the same kind (cancelled); whether one was."""
        running = self._jobs.get(kind)
        cancelled = running is not None and not running.done()
        if running is not None:
            running.cancel()
        self.after_reply(self._job(kind, make))
        return cancelled

    async def _job(self, kind: str, make: Callable[[], Coroutine[Any, Any, None]]) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._jobs[kind] = task
        try:
            await make()
        finally:
            if self._jobs.get(kind) is task:
                del self._jobs[kind]

    async def _sleep_until(self, epoch: float) -> None:
        await asyncio.sleep(max(0.0, epoch - time.time()))

    async def _until_idle(self) -> None:
        """Wait until no session is running."""
        while self.transactions:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._idle_waiters.append(waiter)
            await waiter

    def _wake_if_idle(self) -> None:
        if self.transactions:
            return
        waiters, self._idle_waiters = self._idle_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def _send_all(self, messages: Iterable[tuple[str, Payload]]) -> None:
        """Send CALLs one after the other (the frames of a report)."""
        for action, payload in messages:
            await self.call(action, payload)

    # ------------------------------------------------------------------ internals

    def _loops(self) -> list[Coroutine[Any, Any, None]]:
        loops = [self._meter_loop()]
        if self.idle_report_interval:
            loops.append(self._idle_loop(self.idle_report_interval))
        return loops

    async def _boot_and_report(self) -> None:
        await self._boot()
        self.booted = True
        self.boot_count += 1
        for c in self.status_ids():
            await self.send_status(c)
        pending, self._after_boot = self._after_boot, []
        for make in pending:
            self._spawn(make())

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
