"""The live feed's events, one model per SSE event type."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from evcharging_client.models.base import ChargerStatus, CommandState, Model


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
