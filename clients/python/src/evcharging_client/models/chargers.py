"""Chargers' live state: ``GET /chargers``, ``/chargers/{id}/status``, the batch read."""

from __future__ import annotations

from evcharging_client.models.base import ChargerStatus, Model


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
