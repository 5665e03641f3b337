"""Per-connection state and what a handler returns. Plain data, no I/O (but a log line)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from csms.authorization import (
    RunningChange,
    TokenState,
    concurrent,
    decide,
    unknown_policy,
)
from shared import events as ev
from shared.ids import token_uid
from shared.redis_keys import F
from shared.status import PartnerStatus, connector_status

log = logging.getLogger(__name__)

# How many ended transactions a charger's state remembers: enough for a stop on each EVSE of
# a large charger to be repeated.
ENDED_KEPT = 8


# Session.saved(): raw_status, charging_state, transactions, meter_start_unknown, last_wh,
# tx_tokens, tx_starts, ended.
Saved = tuple[
    dict[int, str],
    dict[int, str],
    dict[int, str],
    set[str],
    dict[str, float],
    dict[int, str],
    dict[int, str],
    tuple[str, ...],
]


@dataclass(slots=True)
class Session:
    """What the node remembers about one charger while its connection is open."""

    charger_id: str
    protocol: str
    node_id: str
    generation: str
    boot_accepted: bool  # may send any CALL; before that only BootNotification and triggered ones
    known: bool
    boot_status: str = ""  # the answer to its latest BootNotification on this connection
    triggered: set[str] = field(default_factory=set)  # actions a TriggerMessage asked for
    raw_status: dict[int, str] = field(default_factory=dict)
    charging_state: dict[int, str] = field(default_factory=dict)
    transactions: dict[int, str] = field(default_factory=dict)  # connector/EVSE -> tx id
    # 2.0.1 transactions whose Started carried no energy reading: the first reading is the start
    meter_start_unknown: set[str] = field(default_factory=set)
    # latest energy register reading (Wh) per running transaction: the stop when none is sent
    last_wh: dict[str, float] = field(default_factory=dict)
    # connector/EVSE -> the registered token (canonical id) its transaction runs for
    tx_tokens: dict[int, str] = field(default_factory=dict)
    # 2.0.1: (EVSE, connector) -> raw status, once an EVSE reports a connector other than 1;
    # most have one connector, and keep only raw_status
    connector_raw: dict[tuple[int, int], str] | None = None
    # 1.6: connector -> its running transaction's StartTransaction, as start_said() puts it; the
    # same start sent again (its answer lost with the connection) is that transaction
    tx_starts: dict[int, str] = field(default_factory=dict)
    # The latest transactions that ended, latest last. A charger that repeats a stop (its answer
    # was lost with its connection) or reports on a transaction after its end changes nothing.
    ended: tuple[str, ...] = ()

    # F.TX_VERSION as the handshake read it (csms/presence.py reads the state again if it moved)
    tx_version: str = ""

    def carry_over(self, fields: dict[str, str]) -> None:
        """Carry on from the charger's last connection, as its hash says: statuses, running
        and ended transactions (only if it spoke the same protocol)."""
        self.tx_version = fields.get(F.TX_VERSION, "")
        self.restore(({}, {}, {}, set(), {}, {}, {}, ()))
        if fields.get(F.PROTOCOL) != self.protocol:
            return
        meters: dict[int, str] = {}
        for name, value in fields.items():
            if not value:
                continue
            try:
                if name.startswith(F.RAW):
                    self.raw_status[int(name[len(F.RAW) :])] = value
                elif name.startswith(F.CHARGING_STATE):
                    self.charging_state[int(name[len(F.CHARGING_STATE) :])] = value
                elif name.startswith(F.TRANSACTION):
                    self.transactions[int(name[len(F.TRANSACTION) :])] = value
                elif name.startswith(F.TX_TOKEN):
                    self.tx_tokens[int(name[len(F.TX_TOKEN) :])] = value
                elif name.startswith(F.TX_START):
                    self.tx_starts[int(name[len(F.TX_START) :])] = value
                elif name.startswith(F.TX_METER):
                    meters[int(name[len(F.TX_METER) :])] = value
                elif name == F.ENDED:
                    self.ended = tuple(map(str, orjson.loads(value)))
            except (ValueError, TypeError):
                continue  # a field this version did not write
        if self.ended:
            self._forget_ended()
        for evse, state in meters.items():
            try:
                self.restore_meter(evse, state)
            except ValueError:
                continue

    def _forget_ended(self) -> None:
        """A transaction the hash says ended is not running, whatever its fields say: a late
        unfenced write of an older node (a 2.0.1 update) can put them back after the end."""
        ended = set(self.ended)
        for evse, tx in list(self.transactions.items()):
            if tx in ended:
                del self.transactions[evse]
                self.tx_tokens.pop(evse, None)
                self.tx_starts.pop(evse, None)

    def saved(self) -> Saved:
        """What a transaction's messages change, to put back with `restore`."""
        return (
            dict(self.raw_status),
            dict(self.charging_state),
            dict(self.transactions),
            set(self.meter_start_unknown),
            dict(self.last_wh),
            dict(self.tx_tokens),
            dict(self.tx_starts),
            self.ended,
        )

    def restore(self, saved: Saved) -> None:
        """Back to what `saved` kept (handlers hold the session's dicts only while they run)."""
        (
            self.raw_status,
            self.charging_state,
            self.transactions,
            self.meter_start_unknown,
            self.last_wh,
            self.tx_tokens,
            self.tx_starts,
            self.ended,
        ) = saved

    def meter_state(self, transaction_id: str) -> str:
        """A running transaction's F.TX_METER field: what a reconnect needs to end it right."""
        wh = self.last_wh.get(transaction_id)
        unknown = "?" if transaction_id in self.meter_start_unknown else ""
        return unknown if wh is None else f"{unknown}{wh!r}"

    def restore_meter(self, evse: int, state: str) -> None:
        """Read a transaction's F.TX_METER field back (its transaction read first)."""
        tx = self.transactions.get(evse)
        if tx is None:
            return
        if state.startswith("?"):
            self.meter_start_unknown.add(tx)
            state = state[1:]
        if state:
            self.last_wh[tx] = float(state)

    def partner_status(self, connector: int) -> PartnerStatus:
        raw = self.raw_status.get(connector)
        if raw is None:
            return PartnerStatus.UNKNOWN
        return connector_status(self.protocol, raw, self.charging_state.get(connector))

    def end(self, transaction_id: str) -> dict[str, str]:
        """Remember that `transaction_id` ended; the hash field that carries it over reconnects."""
        self.ended = (*self.ended[1 - ENDED_KEPT :], transaction_id)
        return {F.ENDED: orjson.dumps(self.ended).decode()}

    def connector_of(self, transaction_id: str) -> int | None:
        for connector, tx in self.transactions.items():
            if tx == transaction_id:
                return connector
        return None


@dataclass(slots=True)
class Outcome:
    """A handler's answer: the CALLRESULT payload, fields for the charger's hash, events."""

    response: dict[str, Any]
    fields: dict[str, str] = field(default_factory=dict)
    events: list[ev.Event] = field(default_factory=list)
    # registered tokens' transactions that began or ended (a replaced one ends first)
    running: tuple[RunningChange, ...] = ()
    then: tuple[str, dict[str, Any]] | None = None  # a CALL to send once this is answered


@dataclass(slots=True)
class Context:
    """What a handler may read besides the payload."""

    session: Session
    now: float  # epoch seconds at receipt
    heartbeat_interval: int
    boot_unknown: str  # policy for chargers no admin registered
    boot_retry_interval: int = 300  # told to Pending and Rejected chargers
    token: TokenState | None = None  # what the token store says about the CALL's token
    authorize_unknown: str = "Invalid"  # Accepted or Invalid for tokens nobody registered
    concurrent_tx: bool = False  # ConcurrentTx for a token with a transaction running

    @property
    def now_iso(self) -> str:
        """`now` as OCPP writes a time; made only when a handler asks (most never do)."""
        return iso(self.now)


def iso(epoch: float) -> str:
    return (
        datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


Handler = Callable[[Context, dict[str, Any]], Outcome]


def status_event(
    ctx: Context,
    connector: int,
    before: PartnerStatus,
    ts: str | None,
    error_code: str | None = None,
) -> ev.StatusEvent:
    """The event for a connector's status as it stands now, with the status it had before."""
    s = ctx.session
    return ev.status(
        s.charger_id,
        ctx.now,
        connector=connector,
        ocpp_status=s.raw_status.get(connector),
        status=s.partner_status(connector).value,
        previous=before.value,
        error_code=error_code,
        ts=ts or ctx.now_iso,
    )


def boot(ctx: Context, vendor: str, model: str, firmware: str | None) -> Outcome:
    """Both versions' BootNotification: known chargers are Accepted, others by policy."""
    s = ctx.session
    status = "Accepted" if s.known else ctx.boot_unknown
    s.boot_status = status
    s.boot_accepted = status == "Accepted"
    s.triggered.clear()
    # Accepted: the heartbeat interval; Pending/Rejected: when to send BootNotification again.
    interval = ctx.heartbeat_interval if s.boot_accepted else ctx.boot_retry_interval
    log.info("charger booted", extra={"charger_id": s.charger_id, "boot_status": status})
    fields = {F.VENDOR: vendor, F.MODEL: model}
    if firmware is not None:
        fields[F.FIRMWARE] = firmware
    return Outcome({"status": status, "currentTime": ctx.now_iso, "interval": interval}, fields)


def heartbeat(ctx: Context, p: dict[str, Any]) -> Outcome:
    return Outcome({"currentTime": ctx.now_iso})


def accept(ctx: Context, p: dict[str, Any]) -> Outcome:
    """For notifications the csms takes note of without changing state."""
    return Outcome({})


def unknown_vendor(ctx: Context, p: dict[str, Any]) -> Outcome:
    """DataTransfer: no vendor extension is implemented, which the spec answers like this."""
    return Outcome({"status": "UnknownVendorId"})


def verdict(
    ctx: Context, token_id: str, transaction_id: str | None = None, *, starting: bool = True
) -> tuple[str, TokenState]:
    """The token store's answer to `token_id` (as looked up into ctx.token) and the lookup.
    `transaction_id`: the transaction it is presented for (it does not compete with itself);
    `starting` False (a stop) never answers ConcurrentTx."""
    s = ctx.session
    state = ctx.token if ctx.token is not None else TokenState(token_uid(token_id), None)
    unknown = unknown_policy(state.granted, ctx.authorize_unknown)
    running = (
        ctx.concurrent_tx
        and starting
        and concurrent(state.running, s.charger_id, s.transactions, transaction_id)
    )
    return decide(state.token, ctx.now, unknown, running), state
