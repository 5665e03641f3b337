"""Typed results: one pydantic model per schema of the API's OpenAPI document.

Attributes are snake_case (``charger.meter_kwh``); the JSON names are camelCase
(``meterKwh``). Fields the API adds in a later minor version are kept, not rejected, so an
older client keeps working (see the versioning policy).

One module per subject (chargers, commands, history, health, events, tokens, admin); import
the models from here.
"""

from evcharging_client.models.admin import (
    AdminCharger,
    AdminChargerPage,
    ApiKey,
    AuditEntry,
    AuditPage,
    EffectiveLimits,
    IssuedKey,
    KeyList,
    Partner,
    PartnerDeleted,
    PartnerPage,
    RegisteredCharger,
)
from evcharging_client.models.base import ChargerStatus, CommandState, ErrorBody, Model
from evcharging_client.models.chargers import BatchStatus, Charger, ChargerPage, Connector
from evcharging_client.models.commands import (
    BatchControlResult,
    BatchItem,
    Command,
    CommandAccepted,
    CommandResult,
)
from evcharging_client.models.events import (
    EVENT_MODELS,
    CommandEvent,
    ConnectionEvent,
    Event,
    GapEvent,
    SessionEvent,
    StatusEvent,
    UnknownEvent,
)
from evcharging_client.models.health import Health, Ready, ReadyChecks
from evcharging_client.models.history import MeterPage, MeterValue, Session, SessionPage
from evcharging_client.models.tokens import Token, TokenPage, TokenStatus

__all__ = [
    "EVENT_MODELS",
    "AdminCharger",
    "AdminChargerPage",
    "ApiKey",
    "AuditEntry",
    "AuditPage",
    "BatchControlResult",
    "BatchItem",
    "BatchStatus",
    "Charger",
    "ChargerPage",
    "ChargerStatus",
    "Command",
    "CommandAccepted",
    "CommandEvent",
    "CommandResult",
    "CommandState",
    "ConnectionEvent",
    "Connector",
    "EffectiveLimits",
    "ErrorBody",
    "Event",
    "GapEvent",
    "Health",
    "IssuedKey",
    "KeyList",
    "MeterPage",
    "MeterValue",
    "Model",
    "Partner",
    "PartnerDeleted",
    "PartnerPage",
    "Ready",
    "ReadyChecks",
    "RegisteredCharger",
    "Session",
    "SessionEvent",
    "SessionPage",
    "StatusEvent",
    "Token",
    "TokenPage",
    "TokenStatus",
    "UnknownEvent",
]
