"""History: the time window and page partners ask for, and the meter values and sessions they
get back."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from typing_extensions import TypedDict

from gateway.schemas import ASCII_PRINTABLE, Cursor, Instant, QueryModel


class HistoryQuery(QueryModel):
    from_: Instant | None = Field(
        None,
        alias="from",
        description="Start of the window (inclusive, ISO 8601 with offset);"
        " default 24 h before `to`",
        examples=["2026-03-01T00:00:00Z"],
    )
    to: Instant | None = Field(
        None,
        description="End of the window (exclusive, ISO 8601 with offset); default now",
        examples=["2026-03-02T00:00:00Z"],
    )
    limit: int = Field(100, ge=1, le=1000, description="Page size (1-1000)", examples=[100])
    cursor: Cursor | None = None


class MeterQuery(HistoryQuery):
    measurand: str | None = Field(
        None,
        max_length=64,
        pattern=ASCII_PRINTABLE,
        description="Only this measurand (as the charger names it)",
        examples=["Energy.Active.Import.Register"],
    )


class AdminMeterQuery(MeterQuery):
    bucket_seconds: int | None = Field(
        None,
        alias="bucketSeconds",
        ge=10,
        le=86_400,
        description="Average the values per bucket of this many seconds (per connector,"
        " measurand and phase), for a chart: each value is then a bucket's mean, stamped with"
        " its start, with no `timestamp` or `transactionId`",
        examples=[60],
    )


class MeterValueJson(TypedDict):
    receivedAt: Annotated[str, Field(description="When the central system received it")]
    timestamp: Annotated[str | None, Field(description="The charger's time of the sample")]
    connectorId: int
    transactionId: str | None
    measurand: Annotated[str, Field(examples=["Energy.Active.Import.Register"])]
    phase: str | None
    value: float
    unit: Annotated[str | None, Field(examples=["Wh"])]


class MeterPage(TypedDict):
    meterValues: Annotated[list[MeterValueJson], Field(description="Oldest first")]
    nextCursor: str | None


class SessionJson(TypedDict):
    chargerId: str
    transactionId: str
    connectorId: int | None
    idTag: str | None
    startedAt: str | None
    stoppedAt: Annotated[str | None, Field(description="Null while the session runs")]
    meterStartWh: float | None
    meterStopWh: float | None
    energyWh: Annotated[float | None, Field(description="Energy delivered, once stopped")]
    stopReason: str | None
    active: bool
    authStatus: Annotated[
        str | None,
        Field(
            description="The central system's answer to the session's token: Accepted, or the"
            " refusal (Blocked, Expired, Invalid, Unknown, ConcurrentTx) after which the charger"
            " stopped it; null for sessions no token answer was recorded for",
            examples=["Accepted"],
        ),
    ]


class SessionPage(TypedDict):
    sessions: Annotated[list[SessionJson], Field(description="Newest first")]
    nextCursor: str | None


class StatusChangeJson(TypedDict):
    receivedAt: Annotated[str, Field(description="When the central system received it")]
    timestamp: Annotated[str | None, Field(description="The charger's time of the change")]
    connectorId: Annotated[
        int, Field(description="Connector (1.6) or EVSE (2.0.1); 0 is the whole 1.6 charger")
    ]
    status: Annotated[
        str, Field(description="The partner status it maps to", examples=["CHARGING"])
    ]
    ocppStatus: Annotated[str, Field(description="As the charger sent it", examples=["Charging"])]
    errorCode: Annotated[str | None, Field(examples=["NoError"])]


class StatusChangePage(TypedDict):
    statusEvents: Annotated[list[StatusChangeJson], Field(description="Newest first")]
    nextCursor: str | None
