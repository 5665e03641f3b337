"""Live events: the filter partners pass to GET /events and the data of each Server-Sent
Event."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field
from typing_extensions import TypedDict

from gateway.schemas import STATE_DESCRIPTION, CommandState, QueryModel, Status, Timestamp
from shared.ids import CHARGER_ID_RE
from shared.status import PartnerStatus

_EVENT_KINDS = "(status|connection|session|command)"


class EventsQuery(QueryModel):
    types: str | None = Field(
        None,
        description="Only these event types (comma-separated): status, connection, session,"
        " command; default all",
        examples=["status,command"],
        json_schema_extra={"pattern": f"^{_EVENT_KINDS}(,{_EVENT_KINDS})*$"},
    )


# The chargers one page of the operator console shows, and then some.
MAX_FOLLOWED = 100
_ID = CHARGER_ID_RE.pattern.removeprefix("^").removesuffix("$")


class AdminEventsQuery(EventsQuery):
    charger_ids: str | None = Field(
        None,
        alias="chargerIds",
        max_length=MAX_FOLLOWED * 49,
        pattern=f"^{_ID}(,{_ID}){{0,{MAX_FOLLOWED - 1}}}$",
        description=f"Only these chargers' events (comma-separated, up to {MAX_FOLLOWED}):"
        " those a page shows; default every charger",
        examples=["CP-0001,CP-0002"],
    )

    def chargers(self) -> frozenset[str] | None:
        return frozenset(self.charger_ids.split(",")) if self.charger_ids is not None else None


class StatusEventJson(TypedDict):
    """event: status: a connector's status changed (connector 0 is the whole 1.6 charger)."""

    chargerId: str
    connectorId: int
    status: Status
    previousStatus: PartnerStatus | None
    ocppStatus: str | None
    errorCode: str | None
    timestamp: Annotated[str | None, Field(description="The charger's time")]
    receivedAt: Timestamp


class ConnectionEventJson(TypedDict):
    """event: connection: the charger connected or disconnected."""

    chargerId: str
    online: bool
    receivedAt: Timestamp


class SessionEventJson(TypedDict):
    """event: session: a charging session started or stopped."""

    chargerId: str
    transactionId: str
    state: Literal["started", "stopped"]
    connectorId: int | None
    idTag: str | None
    meterStartWh: float | None
    meterStopWh: float | None
    reason: str | None
    timestamp: str | None
    receivedAt: Timestamp


class CommandEventJson(TypedDict):
    """event: command: a command of this partner ended."""

    commandId: str
    chargerId: str
    action: str
    state: Annotated[CommandState, Field(description=STATE_DESCRIPTION)]
    ocppAction: str | None
    chargerResponse: dict[str, Any] | None
    message: str | None
    receivedAt: Timestamp


EVENT_MODELS: tuple[type[Any], ...] = (
    StatusEventJson,
    ConnectionEventJson,
    SessionEventJson,
    CommandEventJson,
)
