"""Events on the Redis stream: what csms (and a gateway, for commands no node answered)
appends, and what the recorder and the live feed read. One typed definition per kind, built by
its constructor, so that producers and consumers are checked against the same fields.

An entry holds one field, `e`, with the event as JSON. Every event has `type`, `cp` (charger
id) and `at` (epoch seconds when it was received); the rest depends on the type.
"""

from __future__ import annotations

from typing import Any, Final, Literal, NotRequired, TypedDict

import orjson

FIELD: Final = "e"

STATUS: Final = "status"
METER: Final = "meter"
TX_START: Final = "tx_start"
TX_STOP: Final = "tx_stop"
CONNECTION: Final = "connection"
COMMAND: Final = "command"

# measurand, phase, value, unit of one sampled value (a JSON array on the stream)
Sample = tuple[str, str | None, float, str | None]


class StatusEvent(TypedDict):
    type: Literal["status"]
    cp: str
    at: float
    connector: int  # 1.6 connector, 2.0.1 EVSE
    ocpp_status: str | None
    status: str  # the partner status of the connector after the change
    previous: str  # ... and before it
    error_code: str | None
    ts: str  # the charger's timestamp


class MeterEvent(TypedDict):
    type: Literal["meter"]
    cp: str
    at: float
    connector: int
    transaction_id: str | None
    ts: str | None
    samples: list[Sample]


class TxStartEvent(TypedDict):
    type: Literal["tx_start"]
    cp: str
    at: float
    connector: int | None
    transaction_id: str
    id_tag: str | None
    meter_start_wh: float | None  # None: not known yet (2.0.1 Started without a reading)
    ts: str
    seq_no: NotRequired[int]  # 2.0.1
    offline: NotRequired[bool]  # 2.0.1
    # the answer to its token: Accepted, or the refusal (Blocked, Expired, Invalid, Unknown,
    # ConcurrentTx) after which the charger stops it; absent: not answered from the token store
    auth_status: NotRequired[str]
    token_partner: NotRequired[str]  # the partner whose token started it


class TxStopEvent(TypedDict):
    type: Literal["tx_stop"]
    cp: str
    at: float
    connector: int | None  # None: a transaction the node did not know
    transaction_id: str
    meter_stop_wh: float | None
    reason: str
    ts: str
    seq_no: NotRequired[int]  # 2.0.1


class ConnectionEvent(TypedDict):
    type: Literal["connection"]
    cp: str
    at: float
    online: bool
    node: str
    protocol: NotRequired[str]  # on connect


class CommandEvent(TypedDict):
    type: Literal["command"]
    cp: str
    at: float
    command_id: str
    partner_id: str | None
    action: str  # shared.bus.Action
    params: dict[str, Any]
    ocpp_action: str | None
    outcome: str  # shared.bus.Outcome
    response: dict[str, Any] | None
    message: str | None
    origin: NotRequired[str]  # "gateway": concluded there, no csms node reported it


class ReportEvent(TypedDict):
    """What a charger reports for its operator: firmware, diagnostics and log upload progress,
    security events, NotifyEvent and NotifyReport (2.0.1). Recorded, not shown to partners."""

    type: Literal["report"]
    cp: str
    at: float
    action: str  # the OCPP action the charger sent
    payload: dict[str, Any]  # as the charger sent it (valid against its schema)


Event = (
    StatusEvent
    | MeterEvent
    | TxStartEvent
    | TxStopEvent
    | ConnectionEvent
    | CommandEvent
    | ReportEvent
)


def status(
    cp: str,
    at: float,
    *,
    connector: int,
    ocpp_status: str | None,
    status: str,
    previous: str,
    ts: str,
    error_code: str | None = None,
) -> StatusEvent:
    return StatusEvent(
        type="status",
        cp=cp,
        at=at,
        connector=connector,
        ocpp_status=ocpp_status,
        status=status,
        previous=previous,
        error_code=error_code,
        ts=ts,
    )


def meter(
    cp: str,
    at: float,
    *,
    connector: int,
    transaction_id: str | None,
    ts: str | None,
    samples: list[Sample],
) -> MeterEvent:
    return MeterEvent(
        type="meter",
        cp=cp,
        at=at,
        connector=connector,
        transaction_id=transaction_id,
        ts=ts,
        samples=samples,
    )


def tx_start(
    cp: str,
    at: float,
    *,
    connector: int | None,
    transaction_id: str,
    id_tag: str | None,
    meter_start_wh: float | None,
    ts: str,
    seq_no: int | None = None,
    offline: bool | None = None,
    auth_status: str | None = None,
    token_partner: str | None = None,
) -> TxStartEvent:
    event = TxStartEvent(
        type="tx_start",
        cp=cp,
        at=at,
        connector=connector,
        transaction_id=transaction_id,
        id_tag=id_tag,
        meter_start_wh=meter_start_wh,
        ts=ts,
    )
    if seq_no is not None:
        event["seq_no"] = seq_no
    if offline is not None:
        event["offline"] = offline
    if auth_status is not None:
        event["auth_status"] = auth_status
    if token_partner is not None:
        event["token_partner"] = token_partner
    return event


def tx_stop(
    cp: str,
    at: float,
    *,
    connector: int | None,
    transaction_id: str,
    meter_stop_wh: float | None,
    reason: str,
    ts: str,
    seq_no: int | None = None,
) -> TxStopEvent:
    event = TxStopEvent(
        type="tx_stop",
        cp=cp,
        at=at,
        connector=connector,
        transaction_id=transaction_id,
        meter_stop_wh=meter_stop_wh,
        reason=reason,
        ts=ts,
    )
    if seq_no is not None:
        event["seq_no"] = seq_no
    return event


def connection(
    cp: str, at: float, *, online: bool, node: str, protocol: str | None = None
) -> ConnectionEvent:
    event = ConnectionEvent(type="connection", cp=cp, at=at, online=online, node=node)
    if protocol is not None:
        event["protocol"] = protocol
    return event


def command(
    cp: str,
    at: float,
    *,
    command_id: str,
    partner_id: str | None,
    action: str,
    params: dict[str, Any],
    ocpp_action: str | None,
    outcome: str,
    response: dict[str, Any] | None,
    message: str | None,
    origin: str | None = None,
) -> CommandEvent:
    event = CommandEvent(
        type="command",
        cp=cp,
        at=at,
        command_id=command_id,
        partner_id=partner_id,
        action=action,
        params=params,
        ocpp_action=ocpp_action,
        outcome=outcome,
        response=response,
        message=message,
    )
    if origin is not None:
        event["origin"] = origin
    return event


def report(cp: str, at: float, action: str, payload: dict[str, Any]) -> ReportEvent:
    return ReportEvent(type="report", cp=cp, at=at, action=action, payload=payload)


def encode(event: Event) -> dict[str, bytes]:
    return {FIELD: orjson.dumps(event)}


def decode(fields: dict[Any, Any]) -> Event:
    """The event of a stream entry's fields. Its shape is what a producer wrote; readers of
    foreign entries check `type` before they trust the rest."""
    raw = fields.get(FIELD) or fields.get(FIELD.encode())
    if raw is None:
        raise TypeError("stream entry has no event field")
    return parse(raw)


def parse(raw: str | bytes) -> Event:
    """An event from its JSON; TypeError if it is not an object."""
    event = orjson.loads(raw)
    if not isinstance(event, dict):
        raise TypeError("an event is a JSON object")
    return event  # type: ignore[return-value]
