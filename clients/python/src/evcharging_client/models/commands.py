"""Commands and their outcomes: control, set status, unlock, reset, batch control,
``GET /commands/{id}``, and the operator's OCPP commands (admin API)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from evcharging_client.models.base import CommandState, Model


class CommandResult(Model):
    """The charger's answer to a command sent synchronously."""

    command_id: str
    charger_id: str
    action: str
    """``on``, ``off``, ``availability``, ``unlock`` or ``reset``."""
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


class OperatorCommandResult(Model):
    """The charger's answer to an operator's OCPP command (admin API)."""

    command_id: str
    charger_id: str
    action: str
    """The OCPP action sent, e.g. ``Reset``."""
    protocol: Literal["ocpp1.6", "ocpp2.0.1"]
    outcome: Literal["ACCEPTED", "REJECTED"]
    """REJECTED when the answer's status says the charger will not do it."""
    charger_response: dict[str, Any]
    """The charger's CALLRESULT payload, as it sent it."""


class OperatorCommandAccepted(Model):
    """An operator's OCPP command taken to run in the background (``wait=False``): its outcome
    follows at :meth:`~evcharging_client.EVChargingAdmin.get_command`."""

    command_id: str
    charger_id: str
    action: str
    state: Literal["PENDING"]
    location: str
