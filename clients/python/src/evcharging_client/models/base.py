"""What every result model shares: the base class, the status vocabularies, the error body."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict
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


class ErrorBody(Model):
    """The standard error body every error answer carries."""

    status_code: int
    message: str
    error: str
    timestamp: str
    path: str
    command_id: str | None = None
    outcome: str | None = None
