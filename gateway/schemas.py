"""What partners send (pydantic models, validated by the handlers) and what they get back
(TypedDicts: plain dicts on the hot path, with a schema for the OpenAPI document)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field
from typing_extensions import TypedDict

from shared.charger_view import ChargerView
from shared.ids import CHARGER_ID_RE, valid_charger_id
from shared.status import PartnerStatus

MAX_BATCH = 1000

CHARGER_ID_PATTERN = CHARGER_ID_RE.pattern
ISO_EXAMPLE = "2026-03-01T10:15:30.000Z"


class _Body(BaseModel):
    # strict: "1" is not a connector id; forbid: a misspelt field is an error, not a no-op
    model_config = ConfigDict(strict=True, extra="forbid")


class _Query(BaseModel):
    # lax about types, unlike bodies (query parameters arrive as strings); an unknown one is
    # a 400 naming it, so a misspelt filter is not silently ignored
    model_config = ConfigDict(populate_by_name=True, extra="forbid")


def _charger_id(value: str) -> str:
    if not valid_charger_id(value):
        raise ValueError("not a valid charger id")
    return value


def _whole(value: Any) -> Any:
    """JSON Schema counts 2.0 as an integer, so the API does too (but never "2" or true)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# For an integer in a body: strict like the rest of the body, except that 2.0 is 2. It goes
# after the Field with the bounds, or the bounds vanish from the JSON schema.
WHOLE = BeforeValidator(_whole)

# Text that may reach the database or a charger: no control characters (PostgreSQL refuses
# NUL, and nothing else has a use for them).
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
ASCII_PRINTABLE = r"^[\x20-\x7e]*$"


def _unique(ids: list[str]) -> list[str]:
    """Duplicates folded, first occurrence wins, order kept."""
    return list(dict.fromkeys(ids))


ChargerId = Annotated[
    str,
    AfterValidator(_charger_id),
    Field(
        description="A charger id: 1-48 of A-Z a-z 0-9 . _ : * -",
        examples=["CP-0001"],
        json_schema_extra={"pattern": CHARGER_ID_PATTERN, "maxLength": 48, "minLength": 1},
    ),
]
ChargerIds = Annotated[
    list[ChargerId],
    Field(
        min_length=1,
        max_length=MAX_BATCH,
        description=f"1 to {MAX_BATCH} charger ids; duplicates are folded",
        examples=[["CP-0001", "CP-0002"]],
    ),
    AfterValidator(_unique),
]
ConnectorId = Annotated[
    int,
    Field(
        ge=1,
        le=1000,
        description="Connector (OCPP 1.6) or EVSE (OCPP 2.0.1) number; 1 is the first",
        examples=[1],
    ),
    WHOLE,
]
IdTag = Annotated[
    str,
    Field(
        min_length=1,
        max_length=20,
        pattern=ASCII_PRINTABLE,
        description="Authorisation id (RFID tag or token) the session is started for;"
        " the operator's default tag when left out",
        examples=["PARTNER-TAG-1"],
    ),
]
Limit = Annotated[int, Field(ge=1, le=100, description="Page size (1-100)", examples=[50])]
Cursor = Annotated[
    str,
    Field(
        max_length=512,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The `nextCursor` of the previous page; leave out for the first page",
        examples=["Q1AtMDAwMg"],
    ),
]


# requests ---------------------------------------------------------------------------------


class BatchStatusRequest(_Body):
    """Up to 1000 charger ids whose status to read."""

    ids: ChargerIds


_ID = CHARGER_ID_PATTERN.strip("^$")


class BatchStatusQuery(_Query):
    ids: str = Field(
        description="Comma-separated charger ids (or `ids` repeated), at most 1000;"
        " use POST for long lists",
        examples=["CP-0001,CP-0002"],
        json_schema_extra={"pattern": f"^{_ID}(,{_ID})*$"},
    )


class ListQuery(_Query):
    limit: Limit = 50
    cursor: Cursor | None = None
    status: str | None = Field(
        None,
        description="Only chargers in one of these statuses (comma-separated). A filtered page"
        " may hold fewer than `limit` chargers while `nextCursor` still leads on.",
        examples=["CHARGING,AVAILABLE"],
        json_schema_extra={
            "pattern": f"^({'|'.join(PartnerStatus)})(,({'|'.join(PartnerStatus)}))*$"
        },
    )


class ControlRequest(_Body):
    """Switch a charger on (start a session) or off (stop the running session)."""

    action: Literal["on", "off"] = Field(
        description="`on`: RemoteStartTransaction (1.6) / RequestStartTransaction (2.0.1);"
        " `off`: RemoteStopTransaction / RequestStopTransaction of the running session",
        examples=["on"],
    )
    connector_id: ConnectorId | None = Field(None, alias="connectorId")
    id_tag: IdTag | None = Field(None, alias="idTag")


class StatusChangeRequest(_Body):
    """Make a charger (or one connector) available or take it out of service."""

    status: Literal["AVAILABLE", "INOPERATIVE"] = Field(
        description="AVAILABLE: ChangeAvailability Operative; INOPERATIVE: Inoperative",
        examples=["INOPERATIVE"],
    )
    connector_id: ConnectorId | None = Field(None, alias="connectorId")


class BatchControlRequest(_Body):
    """The same on/off command for up to 1000 chargers."""

    ids: ChargerIds
    action: Literal["on", "off"] = Field(description="As for a single charger", examples=["off"])
    connector_id: ConnectorId | None = Field(None, alias="connectorId")
    id_tag: IdTag | None = Field(None, alias="idTag")


class CommandQuery(_Query):
    mode: Literal["sync", "async"] = Field(
        "sync",
        description="`async`: answer 202 with a command id at once (as `Prefer: respond-async`"
        " does) and report the outcome at GET /commands/{commandId} and on /events",
        examples=["async"],
    )


class HistoryQuery(_Query):
    from_: AwareDatetime | None = Field(
        None,
        alias="from",
        description="Start of the window (inclusive, ISO 8601 with offset);"
        " default 24 h before `to`",
        examples=["2026-03-01T00:00:00Z"],
    )
    to: AwareDatetime | None = Field(
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


_EVENT_KINDS = "(status|connection|session|command)"


class EventsQuery(_Query):
    types: str | None = Field(
        None,
        description="Only these event types (comma-separated): status, connection, session,"
        " command; default all",
        examples=["status,command"],
        json_schema_extra={"pattern": f"^{_EVENT_KINDS}(,{_EVENT_KINDS})*$"},
    )


# responses --------------------------------------------------------------------------------

Status = Annotated[
    PartnerStatus,
    Field(description="One of the seven partner statuses (see the status mapping)"),
]
Timestamp = Annotated[str, Field(description="UTC, ISO 8601", examples=[ISO_EXAMPLE])]


class ConnectorJson(TypedDict):
    connectorId: Annotated[int, Field(description="Connector (1.6) or EVSE (2.0.1) number")]
    status: Status
    ocppStatus: Annotated[str, Field(description="The raw OCPP status", examples=["Charging"])]
    transactionId: Annotated[
        str | None, Field(description="The running session's id, if any", examples=["1042"])
    ]


class ChargerJson(TypedDict):
    chargerId: Annotated[str, Field(examples=["CP-0001"])]
    status: Status
    online: Annotated[bool, Field(description="Connected now, on a live csms node")]
    protocol: Annotated[str | None, Field(description="ocpp1.6 or ocpp2.0.1", examples=["ocpp1.6"])]
    connectors: list[ConnectorJson]
    meterKwh: Annotated[
        float | None, Field(description="Latest energy register reading, kWh", examples=[1234.5])
    ]
    meterTimestamp: Annotated[
        str | None, Field(description="The charger's time of that reading", examples=[ISO_EXAMPLE])
    ]
    statusTimestamp: Annotated[
        str | None, Field(description="The charger's time of its latest status")
    ]
    lastSeen: Annotated[str | None, Field(description="When the charger last sent anything")]


class ChargerPage(TypedDict):
    chargers: list[ChargerJson]
    nextCursor: Annotated[
        str | None, Field(description="Pass as `cursor` for the next page; null on the last")
    ]


class BatchStatusJson(TypedDict):
    chargers: Annotated[list[ChargerJson], Field(description="The partner's chargers found")]
    notFound: Annotated[
        list[str],
        Field(description="Ids that are unknown or not the partner's (indistinguishably)"),
    ]


CommandState = Literal[
    "PENDING",
    "ACCEPTED",
    "REJECTED",
    "TIMEOUT",
    "EVSE_OFFLINE",
    "FAILED",
    "NOT_SUPPORTED",
]
STATE_DESCRIPTION = (
    "OCPI CommandResult vocabulary: ACCEPTED / REJECTED (the charger's answer), TIMEOUT (no"
    " answer in time), EVSE_OFFLINE (not connected), FAILED (the charger answered with an"
    " error, or its csms node was unreachable: see `message`), NOT_SUPPORTED (the command does"
    " not apply to the charger's state, e.g. off with no session running), PENDING (not yet known)"
)


class CommandResultJson(TypedDict):
    """The charger's answer to a command sent synchronously."""

    commandId: Annotated[str, Field(examples=["cmd_5f2b9c0a1d3e4f60"])]
    chargerId: str
    action: Annotated[str, Field(description="on, off or availability", examples=["on"])]
    status: Annotated[Literal["Accepted", "Rejected"], Field(description="The charger's answer")]
    outcome: Annotated[Literal["ACCEPTED", "REJECTED"], Field(description=STATE_DESCRIPTION)]
    ocppAction: Annotated[
        str | None, Field(description="The OCPP call sent", examples=["RemoteStartTransaction"])
    ]
    chargerResponse: Annotated[
        dict[str, Any] | None,
        Field(description="The charger's OCPP response payload", examples=[{"status": "Accepted"}]),
    ]


class CommandAcceptedJson(TypedDict):
    """A command taken for asynchronous execution."""

    commandId: Annotated[str, Field(examples=["cmd_5f2b9c0a1d3e4f60"])]
    chargerId: str
    action: str
    state: Annotated[Literal["PENDING"], Field(description="Always PENDING here")]
    location: Annotated[
        str,
        Field(
            description="Where to poll the outcome",
            examples=["/api/v1/commands/cmd_5f2b9c0a1d3e4f60"],
        ),
    ]


class CommandJson(TypedDict):
    """A partner command and, once known, its outcome."""

    commandId: Annotated[str, Field(examples=["cmd_5f2b9c0a1d3e4f60"])]
    chargerId: str
    action: Annotated[str, Field(description="on, off or availability")]
    mode: Literal["sync", "async"]
    state: Annotated[CommandState, Field(description=STATE_DESCRIPTION)]
    createdAt: Timestamp
    completedAt: Annotated[str | None, Field(description="When the outcome became known")]
    ocppAction: str | None
    chargerResponse: dict[str, Any] | None
    message: Annotated[str | None, Field(description="Why, for an outcome other than ACCEPTED")]


class BatchItemJson(TypedDict):
    chargerId: str
    commandId: Annotated[str | None, Field(description="Null for a charger not found")]
    state: Annotated[
        CommandState | Literal["NOT_FOUND"],
        Field(description=STATE_DESCRIPTION + "; NOT_FOUND: unknown or not the partner's"),
    ]
    httpStatus: Annotated[
        int, Field(description="The status this outcome has as a single command", examples=[200])
    ]
    message: str | None
    chargerResponse: dict[str, Any] | None


class BatchControlJson(TypedDict):
    results: Annotated[list[BatchItemJson], Field(description="One per distinct id, in order")]
    summary: Annotated[
        dict[str, int],
        Field(
            description="How many ended in each state", examples=[{"ACCEPTED": 2, "NOT_FOUND": 1}]
        ),
    ]


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


class SessionPage(TypedDict):
    sessions: Annotated[list[SessionJson], Field(description="Newest first")]
    nextCursor: str | None


class HealthJson(TypedDict):
    status: Literal["ok"]


class ReadyChecks(TypedDict):
    redis: Literal["ok", "unavailable"]
    postgresql: Literal["ok", "unavailable"]


class ReadyJson(TypedDict):
    status: Literal["ok"]
    checks: ReadyChecks


class ErrorBody(BaseModel):
    """Every error has this body; some add fields (commandId, outcome, checks)."""

    model_config = ConfigDict(extra="allow")

    statusCode: int = Field(description="The HTTP status again", examples=[404])
    message: str = Field(description="What went wrong, for a human", examples=["charger not found"])
    error: str = Field(description="The status's reason phrase", examples=["Not Found"])
    timestamp: str = Field(description="UTC, ISO 8601", examples=[ISO_EXAMPLE])
    path: str = Field(description="The request path", examples=["/api/v1/chargers/CP-0001/status"])
    commandId: str | None = Field(
        None,
        description="For command outcomes: the command's id",
        examples=["cmd_5f2b9c0a1d3e4f60"],
    )
    outcome: str | None = Field(
        None, description="For command outcomes: " + STATE_DESCRIPTION, examples=["EVSE_OFFLINE"]
    )


# live events (the data of each Server-Sent Event) -----------------------------------------


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


def charger_json(view: ChargerView) -> ChargerJson:
    # a plain function rather than a response model: a batch renders 1000 of these per request
    return {
        "chargerId": view.charger_id,
        "status": view.status,
        "online": view.online,
        "protocol": view.protocol,
        "connectors": [
            {
                "connectorId": c.connector_id,
                "status": c.status,
                "ocppStatus": c.ocpp_status,
                "transactionId": c.transaction_id,
            }
            for c in view.connectors
        ],
        "meterKwh": view.meter_kwh,
        "meterTimestamp": view.meter_timestamp,
        "statusTimestamp": view.status_timestamp,
        "lastSeen": view.last_seen,
    }
