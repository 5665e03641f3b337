"""The command bus: envelopes published to a csms node's channel and replies to a gateway's."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class Outcome(StrEnum):
    """How a command ended; the vocabulary follows OCPI's CommandResult."""

    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    TIMEOUT = "TIMEOUT"
    EVSE_OFFLINE = "EVSE_OFFLINE"
    FAILED = "FAILED"  # the charger answered with a CALLERROR
    NOT_SUPPORTED = "NOT_SUPPORTED"  # the action has no meaning for the charger's state


class Action(StrEnum):
    START = "start"
    STOP = "stop"
    AVAILABILITY = "availability"


class CommandRequest(BaseModel):
    id: str
    reply_to: str
    charger_id: str
    partner_id: str | None = None
    action: Action
    params: dict[str, Any] = Field(default_factory=dict)
    timeout: float = 10.0


class CommandReply(BaseModel):
    id: str
    outcome: Outcome
    ocpp_action: str | None = None
    response: dict[str, Any] | None = None
    message: str | None = None
