"""A charger's history: meter values and charging sessions, page by page."""

from __future__ import annotations

from evcharging_client.models.base import Model


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

    charger_id: str
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
    auth_status: str | None = None
    """The central system's answer to the session's token: Accepted, or why it was refused
    (Blocked, Expired, Invalid, Unknown, ConcurrentTx); None where none was recorded."""


class SessionPage(Model):
    """One page of sessions, newest first."""

    sessions: list[Session]
    next_cursor: str | None
