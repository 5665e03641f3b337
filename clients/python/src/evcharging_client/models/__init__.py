"""Typed results: one pydantic model per schema of the API's OpenAPI document.

Attributes are snake_case (``charger.meter_kwh``); the JSON names are camelCase
(``meterKwh``). Fields the API adds in a later minor version are kept, not rejected, so an
older client keeps working (see the versioning policy).

One module per subject (chargers, commands, history, health, events, tokens, admin); import
the models from here.
"""

from evcharging_client.models.admin import (
    AdminCharger,
    AdminChargerDetail,
    AdminChargerPage,
    ApiKey,
    AuditEntry,
    AuditPage,
    ChargerReports,
    EffectiveLimits,
    FirmwareUpdate,
    IssuedKey,
    KeyList,
    LocalList,
    LocalListEntry,
    LocalListSent,
    NotifyEvent,
    Partner,
    PartnerDeleted,
    PartnerPage,
    RegisteredCharger,
    ReportPart,
    SecurityEvent,
    Upload,
)
from evcharging_client.models.base import ChargerStatus, CommandState, ErrorBody, Model
from evcharging_client.models.chargers import BatchStatus, Charger, ChargerPage, Connector
from evcharging_client.models.commands import (
    BatchControlResult,
    BatchItem,
    Command,
    CommandAccepted,
    CommandResult,
    OperatorCommandAccepted,
    OperatorCommandResult,
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
    "AdminChargerDetail",
    "AdminChargerPage",
    "ApiKey",
    "AuditEntry",
    "AuditPage",
    "BatchControlResult",
    "BatchItem",
    "BatchStatus",
    "Charger",
    "ChargerPage",
    "ChargerReports",
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
    "FirmwareUpdate",
    "GapEvent",
    "Health",
    "IssuedKey",
    "KeyList",
    "LocalList",
    "LocalListEntry",
    "LocalListSent",
    "MeterPage",
    "MeterValue",
    "Model",
    "NotifyEvent",
    "OperatorCommandAccepted",
    "OperatorCommandResult",
    "Partner",
    "PartnerDeleted",
    "PartnerPage",
    "Ready",
    "ReadyChecks",
    "RegisteredCharger",
    "ReportPart",
    "SecurityEvent",
    "Session",
    "SessionEvent",
    "SessionPage",
    "StatusEvent",
    "Token",
    "TokenPage",
    "TokenStatus",
    "UnknownEvent",
    "Upload",
]
