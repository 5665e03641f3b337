"""The protocol-independent half of a simulated charger: its connectors, sessions, meter,
availability, reset and timers, over the connection of simulators/link.py."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Coroutine, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

from shared.framing import Payload
from simulators.link import (
    BootRejected,
    CallError,
    ChargerLink,
    ConnectionRejected,
    Handler,
    NotConnected,
)

log = logging.getLogger(__name__)

__all__ = [
    "BootRejected",
    "CallError",
    "ConnectionRejected",
    "Handler",
    "NotConnected",
    "SimCharger",
    "Transaction",
]

OPERATIVE = "Operative"
INOPERATIVE = "Inoperative"


def iso_now() -> str:
    """The current UTC time as ISO 8601 with milliseconds and a 'Z' suffix."""
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


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

        # Observable state.
        self.boot_count = 0
        ids = self.status_ids()
        self.connector_status: dict[int, str] = {c: "Available" for c in ids}
        self.availability: dict[int, str] = {c: OPERATIVE for c in (0, *self.connector_ids())}
        self.transactions: dict[int, Transaction] = {}
        self.meters: dict[int, float] = {c: 0.0 for c in self.connector_ids()}
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
