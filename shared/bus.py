"""The command bus: envelopes published to a csms node's channel and replies to a gateway's."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

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
    """What a command asks of a charger; csms/commands.py maps each to its OCPP CALL.

    params: start {connectorId?, idTag?}; stop {connectorId?}; availability {operative,
    connectorId?}; reset {type?: Soft|Hard (1.6) or OnIdle|Immediate (2.0.1), either accepted};
    unlock {connectorId, evseId? (2.0.1)}; trigger {message, connectorId?}; clear_cache {}.
    The rest take the OCPP request payload of the charger's version as it is:
    get_configuration, change_configuration (1.6); get_variables, set_variables,
    get_base_report (2.0.1; requestId may be left out).
    ocpp (operators only): {action, payload}, any message a CSMS sends in the charger's
    version, its payload as the spec defines it.
    """

    START = "start"
    STOP = "stop"
    AVAILABILITY = "availability"
    RESET = "reset"
    UNLOCK = "unlock"
    TRIGGER = "trigger"
    CLEAR_CACHE = "clear_cache"
    GET_CONFIGURATION = "get_configuration"
    CHANGE_CONFIGURATION = "change_configuration"
    GET_VARIABLES = "get_variables"
    SET_VARIABLES = "set_variables"
    GET_BASE_REPORT = "get_base_report"
    OCPP = "ocpp"


class CommandRequest(BaseModel):
    id: str
    reply_to: str
    charger_id: str
    partner_id: str | None = None
    action: Action
    params: dict[str, Any] = Field(default_factory=dict)
    timeout: float = 10.0
    # Times a node handed the command on to the node its charger moved to (bounded).
    hops: int = 0


class Evict(BaseModel):
    """Sent to a node still holding a charger's older connection: close it."""

    kind: Literal["evict"] = "evict"
    charger_id: str
    generation: str  # the newer connection's


class CommandReply(BaseModel):
    id: str
    outcome: Outcome
    ocpp_action: str | None = None
    response: dict[str, Any] | None = None
    message: str | None = None
