"""One charger's OCPP-J conversation without I/O: a frame in, what to do about it out.

In the manner of python-websockets' protocol.py: the connection (csms/connection.py) reads
and writes the socket and runs the store; everything that decides what to answer is here —
the CALLERROR a broken frame gets, which CALLs a charger may send before its boot was
accepted, the schema check, the handler, and the same answer again for a CALL sent twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from csms import limits
from csms.authorization import RunningChange, TokenState, token_of
from csms.session import Context, Handler, Saved, Session
from shared import framing, ocpp_schemas
from shared.events import Event
from shared.framing import CODES, Call, CallError, CallResult
from shared.ocpp_schemas import Validator
from shared.redis_keys import F

log = logging.getLogger(__name__)

# TriggerMessage's requestedMessage -> the CALL the charger then sends (where they differ)
_TRIGGERED_ACTION = {
    "SignChargingStationCertificate": "SignCertificate",
    "SignV2GCertificate": "SignCertificate",
    "SignCombinedCertificate": "SignCertificate",
}


def triggered_action(requested_message: str) -> str:
    """The action a charger sends when a TriggerMessage asked for `requested_message`."""
    return _TRIGGERED_ACTION.get(requested_message, requested_message)


@dataclass(frozen=True, slots=True)
class Policy:
    """What the central system tells chargers, from the settings."""

    heartbeat_interval: int
    boot_unknown: str  # Accepted, Pending or Rejected for chargers no admin registered
    boot_retry_interval: int  # told to Pending and Rejected chargers
    max_connectors: int = 16  # highest connector or EVSE id a charger may name
    authorize_unknown: str = "Invalid"  # Accepted or Invalid for tokens nobody registered
    concurrent_tx: bool = False  # ConcurrentTx for a token with a transaction running


# What receive() decides, one per frame: plain slotted dataclasses, as a frozen one costs
# several times as much to make (each field set through object.__setattr__).


@dataclass(slots=True)
class Send:
    """Send this frame now."""

    frame: str


# The actions whose handlers change a transaction's state in the session.
TRANSACTIONAL = frozenset({"StartTransaction", "StopTransaction", "TransactionEvent"})


@dataclass(slots=True)
class Store:
    """Write the fields and events, then send `stored()`'s frame, or `not_stored()`'s if the
    write failed: a charger is never told "accepted" about what is not stored."""

    call: Call
    data: str | bytes  # the frame as received, to know it again if it comes twice
    fields: dict[str, str]
    events: list[Event]
    answer: str
    # once stored: the tokens' transactions to record or clear (csms/authorization.py)
    running: tuple[RunningChange, ...] = ()
    then: tuple[str, dict[str, Any]] | None = None  # once answered: a CALL to the charger
    # a transaction's message: the session as it was, put back if the write fails
    before: Saved | None = None


@dataclass(slots=True)
class Lookup:
    """Read what the token store says about `token` (csms/authorization.py), then `resume()`."""

    call: Call
    data: str | bytes
    token: str


@dataclass(slots=True)
class Settle:
    """The charger's answer to a CALL we sent."""

    answer: CallResult | CallError


Action = Send | Store | Settle | Lookup | None  # None: nothing to do


class ChargerProtocol:
    """The central system's side of one charger's OCPP-J conversation."""

    def __init__(
        self,
        session: Session,
        handlers: dict[str, Handler],
        validators: dict[str, Validator | None],
        policy: Policy,
    ) -> None:
        self.session = session
        self.codes = CODES[session.protocol]
        self._handlers = handlers
        self._validators = validators
        self._policy = policy
        # The latest CALL and its answer. A charger has one CALL outstanding, so a CALL it sends
        # again with the same id (a retry while the first was in flight) is always this one: the
        # repeat gets the same answer and the handler runs once.
        # It is known again by its id and the frame's hash, not the frame, which would keep
        # ~0.6 KiB per charger on duty: another CALL under a reused id (OCPP forbids reusing
        # one) would also need the same 64-bit hash to be taken for a repeat.
        self._last: tuple[str, int, str] | None = None

    def receive(self, data: str | bytes, now: float, calls_taken: bool = True) -> Action:
        """What to do about a frame the charger sent. With `calls_taken` False (the node is
        shutting down) a CALL is neither stored nor answered: the charger sends it again to
        its next node and it is stored once there."""
        try:
            frame = framing.parse(data, self.codes)
        except framing.FrameError as exc:
            if exc.answerable:
                assert exc.message_id is not None
                return Send(framing.call_error(exc.message_id, exc.code, exc.description))
            if exc.message_id is not None:
                # A broken answer to one of our CALLs: its command fails now, not at its timeout.
                return Settle(CallError(exc.message_id, exc.code, exc.description, {}))
            return None
        if not isinstance(frame, Call):
            return Settle(frame)  # an answer to no outstanding CALL is ignored by the caller
        if not calls_taken:
            return None
        last = self._last
        if last is not None and last[0] == frame.id and last[1] == hash(data):
            return Send(last[2])
        try:
            return self._answer(frame, data, now)
        except Exception:
            # whatever a frame holds, the connection and the node carry on
            log.exception(
                "CALL failed",
                extra={"charger_id": self.session.charger_id, "action": frame.action},
            )
            return Send(framing.call_error(frame.id, self.codes.internal, "internal error"))

    def _answer(self, call: Call, data: str | bytes, now: float) -> Send | Store | Lookup:
        refusal = self._refusal(call)
        if refusal is not None:
            return refusal
        token = token_of(self.session.protocol, call.action, call.payload)
        if token is not None:
            return Lookup(call, data, token)
        return self._handle(call, data, now, None)

    def resume(self, lookup: Lookup, found: TokenState | None, now: float) -> Send | Store:
        """The answer to a CALL once its token was read; `found` None: it could not be read,
        and the charger is told to try again (an error answer, as for a failed store)."""
        call = lookup.call
        if found is None:
            return Send(
                framing.call_error(call.id, self.codes.internal, "could not read the token; retry")
            )
        try:
            return self._handle(call, lookup.data, now, found)
        except Exception:
            log.exception(
                "CALL failed", extra={"charger_id": self.session.charger_id, "action": call.action}
            )
            return Send(framing.call_error(call.id, self.codes.internal, "internal error"))

    def _refusal(self, call: Call) -> Send | None:
        """The CALLERROR for a CALL that cannot run: unknown, before the boot, malformed."""
        s, codes = self.session, self.codes
        handler = self._handlers.get(call.action)
        if handler is None:
            known = ocpp_schemas.known(s.protocol, call.action)
            code = codes.not_supported if known else codes.not_implemented
            return Send(framing.call_error(call.id, code, f"{call.action} is not supported"))
        if not s.boot_accepted and call.action != "BootNotification":
            if call.action not in s.triggered:
                return Send(
                    framing.call_error(call.id, codes.security, "BootNotification not accepted yet")
                )
        check = self._validators[call.action]
        if check is not None:
            problem = ocpp_schemas.check(check, call.payload, codes)
            if problem is not None:
                return Send(framing.call_error(call.id, problem[0], problem[1]))
        policy = self._policy
        out_of_range = limits.id_out_of_range(
            s.protocol, call.action, call.payload, policy.max_connectors
        )
        if out_of_range is not None:
            return Send(framing.call_error(call.id, codes.property, out_of_range))
        return None

    def _handle(self, call: Call, data: str | bytes, now: float, token: TokenState | None) -> Store:
        policy = self._policy
        ctx = Context(
            self.session,
            now,
            policy.heartbeat_interval,
            policy.boot_unknown,
            policy.boot_retry_interval,
            token=token,
            authorize_unknown=policy.authorize_unknown,
            concurrent_tx=policy.concurrent_tx,
        )
        # The charger sends a message again when its write failed: the handler must then find
        # the session as it was, or a stop would be taken for a repeat of itself and dropped.
        before = self.session.saved() if call.action in TRANSACTIONAL else None
        try:
            outcome = self._handlers[call.action](ctx, call.payload)
        except Exception:
            if before is not None:
                self.session.restore(before)
            raise
        outcome.fields[F.SEEN] = repr(now)
        answer = framing.call_result(call.id, outcome.response)
        return Store(
            call,
            data,
            outcome.fields,
            outcome.events,
            answer,
            outcome.running,
            outcome.then,
            before,
        )

    def stored(self, store: Store) -> str:
        """The answer to a stored CALL; a repeat of the CALL gets it again."""
        self._last = (store.call.id, hash(store.data), store.answer)
        return store.answer

    def not_stored(self, store: Store) -> str:
        """The answer to a CALL whose write failed: the charger keeps it and sends it again."""
        if store.before is not None:
            self.session.restore(store.before)
        return framing.call_error(
            store.call.id, self.codes.internal, "could not store the message; retry"
        )

    def accepted_trigger(self, payload: dict[str, Any]) -> None:
        """A TriggerMessage was accepted: a charger whose boot is still pending may now send
        what it was asked for."""
        self.session.triggered.add(triggered_action(payload["requestedMessage"]))
