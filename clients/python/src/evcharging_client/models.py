"""Typed results: one pydantic model per schema of the API's OpenAPI document.

Attributes are snake_case (``charger.meter_kwh``); the JSON names are camelCase
(``meterKwh``). Fields the API adds in a later minor version are kept, not rejected, so an
older client keeps working (see the versioning policy).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

ChargerStatus = Literal[
    "AVAILABLE", "CHARGING", "BLOCKED", "RESERVED", "INOPERATIVE", "REMOVED", "UNKNOWN"
]
"""The seven partner statuses."""

CommandState = Literal[
    "PENDING", "ACCEPTED", "REJECTED", "TIMEOUT", "EVSE_OFFLINE", "FAILED", "NOT_SUPPORTED"
]
"""A command's outcome (OCPI CommandResult vocabulary); PENDING until it is known."""


class Model(BaseModel):
    """Base of every result: camelCase on the wire, snake_case in Python, unknown fields kept."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="allow", frozen=True
    )


# chargers ---------------------------------------------------------------------------------


class Connector(Model):
    """A connector (OCPP 1.6) or EVSE (OCPP 2.0.1) of a charger."""

    connector_id: int
    status: ChargerStatus
    ocpp_status: str
    """The raw OCPP status, e.g. ``Charging``."""
    transaction_id: str | None
    """The running session's id, if any."""


class Charger(Model):
    """A charger's live state: status, connectors, meter and timestamps."""

    charger_id: str
    status: ChargerStatus
    online: bool
    """Connected now, on a live csms node."""
    protocol: str | None
    """``ocpp1.6`` or ``ocpp2.0.1``; None if never connected."""
    connectors: list[Connector]
    meter_kwh: float | None
    """Latest energy register reading, kWh."""
    meter_timestamp: str | None
    status_timestamp: str | None
    last_seen: str | None


class ChargerPage(Model):
    """One page of ``GET /chargers``."""

    chargers: list[Charger]
    next_cursor: str | None


class BatchStatus(Model):
    """The chargers found and the ids that are unknown or not yours (indistinguishably)."""

    chargers: list[Charger]
    not_found: list[str]


# commands ---------------------------------------------------------------------------------


class CommandResult(Model):
    """The charger's answer to a command sent synchronously."""

    command_id: str
    charger_id: str
    action: str
    """``on``, ``off`` or ``availability``."""
    status: Literal["Accepted", "Rejected"]
    outcome: Literal["ACCEPTED", "REJECTED"]
    ocpp_action: str | None
    """The OCPP call sent, e.g. ``RemoteStartTransaction``."""
    charger_response: dict[str, Any] | None
    replayed: bool = Field(False, exclude=True)
    """True when this is the stored answer to an earlier request with the same
    Idempotency-Key (the command was not sent again). Set from the response header."""


class CommandAccepted(Model):
    """A command taken for asynchronous execution (``wait=False``): its outcome follows."""

    command_id: str
    charger_id: str
    action: str
    state: Literal["PENDING"]
    location: str
    replayed: bool = Field(False, exclude=True)
    """True when this is the stored answer to an earlier request with the same key."""


class Command(Model):
    """A command you sent and, once known, its outcome."""

    command_id: str
    charger_id: str
    action: str
    mode: Literal["sync", "async"]
    state: CommandState
    created_at: str
    completed_at: str | None
    ocpp_action: str | None
    charger_response: dict[str, Any] | None
    message: str | None
    """Why, for an outcome other than ACCEPTED."""


class BatchItem(Model):
    """One charger's outcome in a batch command."""

    charger_id: str
    command_id: str | None
    state: CommandState | Literal["NOT_FOUND"]
    http_status: int
    """The status this outcome has as a single command."""
    message: str | None
    charger_response: dict[str, Any] | None


class BatchControlResult(Model):
    """Every charger's outcome in a batch command, and how many ended in each state."""

    results: list[BatchItem]
    summary: dict[str, int]
    replayed: bool = Field(False, exclude=True)
    """True when this is the stored answer to an earlier request with the same key."""


# history ----------------------------------------------------------------------------------


class MeterValue(Model):
    """One sampled value from a charger's MeterValues."""

    received_at: str
    timestamp: str | None
    connector_id: int
    transaction_id: str | None
    measurand: str
    phase: str | None
    value: float
    unit: str | None


class MeterPage(Model):
    """One page of meter values, oldest first."""

    meter_values: list[MeterValue]
    next_cursor: str | None


class Session(Model):
    """A charging session (OCPP transaction)."""

    transaction_id: str
    connector_id: int | None
    id_tag: str | None
    started_at: str | None
    stopped_at: str | None
    """None while the session runs."""
    meter_start_wh: float | None
    meter_stop_wh: float | None
    energy_wh: float | None
    """Energy delivered, once stopped."""
    stop_reason: str | None
    active: bool


class SessionPage(Model):
    """One page of sessions, newest first."""

    sessions: list[Session]
    next_cursor: str | None


# operations -------------------------------------------------------------------------------


class Health(Model):
    """The gateway is alive."""

    status: Literal["ok"]


class ReadyChecks(Model):
    redis: Literal["ok", "unavailable"]
    postgresql: Literal["ok", "unavailable"]


class Ready(Model):
    """The gateway's storage answers."""

    status: Literal["ok"]
    checks: ReadyChecks


# live events ------------------------------------------------------------------------------


class _Event(Model):
    event_id: str | None = Field(None, exclude=True)
    """The SSE ``id``: where to resume (``last_event_id``). Not part of the event's data."""


class StatusEvent(_Event):
    """``status``: a connector's status changed (connector 0 is the whole 1.6 charger)."""

    type: Literal["status"] = Field("status", exclude=True)
    charger_id: str
    connector_id: int
    status: ChargerStatus
    previous_status: ChargerStatus | None
    ocpp_status: str | None
    error_code: str | None
    timestamp: str | None
    received_at: str


class ConnectionEvent(_Event):
    """``connection``: the charger connected or disconnected."""

    type: Literal["connection"] = Field("connection", exclude=True)
    charger_id: str
    online: bool
    received_at: str


class SessionEvent(_Event):
    """``session``: a charging session started or stopped."""

    type: Literal["session"] = Field("session", exclude=True)
    charger_id: str
    transaction_id: str
    state: Literal["started", "stopped"]
    connector_id: int | None
    id_tag: str | None
    meter_start_wh: float | None
    meter_stop_wh: float | None
    reason: str | None
    timestamp: str | None
    received_at: str


class CommandEvent(_Event):
    """``command``: a command of yours ended."""

    type: Literal["command"] = Field("command", exclude=True)
    command_id: str
    charger_id: str
    action: str
    state: CommandState
    ocpp_action: str | None
    charger_response: dict[str, Any] | None
    message: str | None
    received_at: str


class GapEvent(_Event):
    """``gap``: events after your Last-Event-ID may have been trimmed from the stream (it was
    older than the retention): read the current state from the REST API."""

    type: Literal["gap"] = Field("gap", exclude=True)
    message: str


class UnknownEvent(_Event):
    """An event type this version of the client does not know; its raw data is kept."""

    type: str = Field(exclude=True)
    data: Any = None


Event = StatusEvent | ConnectionEvent | SessionEvent | CommandEvent | GapEvent | UnknownEvent
"""Anything ``events()`` yields; tell them apart with ``isinstance`` or ``event.type``."""

EVENT_MODELS: dict[str, type[_Event]] = {
    "status": StatusEvent,
    "connection": ConnectionEvent,
    "session": SessionEvent,
    "command": CommandEvent,
    "gap": GapEvent,
}

# admin ------------------------------------------------------------------------------------


class EffectiveLimits(Model):
    per_minute: int
    per_hour: int


class Partner(Model):
    """A partner company (admin API)."""

    id: str
    name: str
    status: Literal["active", "suspended"]
    charger_quota: int | None
    rate_limit_minute: int | None
    rate_limit_hour: int | None
    effective_rate_limits: EffectiveLimits
    chargers: int
    created_at: str


class PartnerPage(Model):
    partners: list[Partner]
    next_cursor: str | None


class PartnerDeleted(Model):
    partner_id: str
    keys_revoked: int
    chargers_unassigned: int


class ApiKey(Model):
    """An API key's record: its prefix, never the key (admin API)."""

    id: str
    partner_id: str
    prefix: str
    name: str | None
    state: str
    created_at: str
    expires_at: str | None
    revoked_at: str | None
    replaced_by: str | None


class IssuedKey(Model):
    """A new API key, shown this once, and (after a rotation) the previous key's record."""

    key: str
    api_key: ApiKey
    previous: ApiKey | None


class KeyList(Model):
    keys: list[ApiKey]


class AdminCharger(Model):
    """A registered charger (admin API)."""

    charger_id: str
    partner_id: str | None
    protocol: str | None
    vendor: str | None
    model: str | None
    has_password: bool
    registered_at: str
    assigned_at: str | None
    removed_at: str | None


class AdminChargerPage(Model):
    chargers: list[AdminCharger]
    next_cursor: str | None


class RegisteredCharger(Model):
    """A charger just registered, and its generated password (shown this once)."""

    charger: AdminCharger
    password: str | None


class AuditEntry(Model):
    at: str
    actor: str
    action: str
    target: str | None
    details: Any = None


class AuditPage(Model):
    entries: list[AuditEntry]
    next_cursor: str | None


class ErrorBody(Model):
    """The standard error body every error answer carries."""

    status_code: int
    message: str
    error: str
    timestamp: str
    path: str
    command_id: str | None = None
    outcome: str | None = None
