"""Python client for the EV charging partner API.

>>> from evcharging_client import EVChargingClient
>>> with EVChargingClient("evcs_…", base_url="https://api.example.com") as client:
...     client.control("CP-0001", "on")
...     print(client.get_charger_status("CP-0001").status)
"""

from evcharging_client._http import VERSION as __version__
from evcharging_client.admin import EVChargingAdmin
from evcharging_client.async_admin import AsyncEVChargingAdmin
from evcharging_client.async_client import AsyncEVChargingClient
from evcharging_client.async_event_stream import AsyncEventStream
from evcharging_client.client import EVChargingClient
from evcharging_client.errors import (
    APIError,
    BadRequest,
    ChargerError,
    ChargerOffline,
    CommandNotApplicable,
    CommandTimeout,
    Conflict,
    EVChargingError,
    Forbidden,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServerError,
    ServiceUnavailable,
    TransportError,
    Unauthorized,
    UnsupportedMediaType,
)
from evcharging_client.event_stream import EventStream
from evcharging_client.models import (
    BatchControlResult,
    BatchItem,
    BatchStatus,
    Charger,
    ChargerStatus,
    Command,
    CommandAccepted,
    CommandEvent,
    CommandResult,
    CommandState,
    ConnectionEvent,
    Connector,
    Event,
    GapEvent,
    MeterValue,
    Session,
    SessionEvent,
    StatusEvent,
    UnknownEvent,
)
from evcharging_client.retry import RetryPolicy

__all__ = [
    "APIError",
    "AsyncEVChargingAdmin",
    "AsyncEVChargingClient",
    "AsyncEventStream",
    "BadRequest",
    "BatchControlResult",
    "BatchItem",
    "BatchStatus",
    "Charger",
    "ChargerError",
    "ChargerOffline",
    "ChargerStatus",
    "Command",
    "CommandAccepted",
    "CommandEvent",
    "CommandNotApplicable",
    "CommandResult",
    "CommandState",
    "CommandTimeout",
    "Conflict",
    "ConnectionEvent",
    "Connector",
    "EVChargingAdmin",
    "EVChargingClient",
    "EVChargingError",
    "Event",
    "EventStream",
    "Forbidden",
    "GapEvent",
    "IdempotencyInProgress",
    "IdempotencyKeyReused",
    "MeterValue",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "RetryPolicy",
    "ServerError",
    "ServiceUnavailable",
    "Session",
    "SessionEvent",
    "StatusEvent",
    "TransportError",
    "Unauthorized",
    "UnknownEvent",
    "UnsupportedMediaType",
    "__version__",
]
