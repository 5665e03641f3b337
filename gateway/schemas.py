"""What every part of the partner API shares: the base models of bodies and query parameters,
field types, and the service's own answers (errors, health). Each subject's models live in
their own module: charger_schemas, command_schemas, history_schemas, event_schemas."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field
from typing_extensions import TypedDict

from shared.ids import CHARGER_ID_RE, valid_charger_id
from shared.status import PartnerStatus

MAX_BATCH = 1000

CHARGER_ID_PATTERN = CHARGER_ID_RE.pattern
ISO_EXAMPLE = "2026-03-01T10:15:30.000Z"


class BodyModel(BaseModel):
    """A request body: what partners send, validated strictly."""

    # strict: "1" is not a connector id; forbid: a misspelt field is an error, not a no-op
    model_config = ConfigDict(strict=True, extra="forbid")


class QueryModel(BaseModel):
    """An endpoint's query parameters."""

    # lax about types, unlike bodies (query parameters arrive as strings); an unknown one is
    # a 400 naming it, so a misspelt filter is not silently ignored
    model_config = ConfigDict(populate_by_name=True, extra="forbid")


# A day inside Python's years, so that a window's default start (a day before its end) and
# the move to UTC that PostgreSQL makes stay representable.
EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)


def representable(ts: datetime) -> bool:
    """Whether an aware time lies within EARLIEST and LATEST."""
    try:
        return EARLIEST <= ts <= LATEST
    except OverflowError:  # 0001-01-01T00:00+14:00 has no UTC time
        return False


def _representable(ts: datetime) -> datetime:
    if not representable(ts):
        raise ValueError("must lie between 0001-01-02 and 9999-12-30 (UTC)")
    return ts


# A time with its offset, as bodies and query parameters take one.
Instant = Annotated[AwareDatetime, AfterValidator(_representable)]


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


def no_default(schema: dict[str, Any]) -> None:
    """json_schema_extra of a field that may be left out but not sent as null: it documents
    no null default."""
    schema.pop("default", None)


def fold_duplicates(ids: list[str]) -> list[str]:
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
    AfterValidator(fold_duplicates),
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

Status = Annotated[
    PartnerStatus,
    Field(description="One of the seven partner statuses (see the status mapping)"),
]
Timestamp = Annotated[str, Field(description="UTC, ISO 8601", examples=[ISO_EXAMPLE])]


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


# the service's own answers -------------------------------------------------------------


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


class HealthJson(TypedDict):
    status: Literal["ok"]


class ReadyChecks(TypedDict):
    redis: Literal["ok", "unavailable"]
    postgresql: Literal["ok", "unavailable"]


class ReadyJson(TypedDict):
    status: Literal["ok"]
    checks: ReadyChecks
