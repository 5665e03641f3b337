"""Status reads: what partners ask for (a batch of ids, a page of their chargers) and what
they get back about each charger."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field
from typing_extensions import TypedDict

from gateway.schemas import (
    CHARGER_ID_PATTERN,
    ISO_EXAMPLE,
    MAX_BATCH,
    BodyModel,
    ChargerId,
    ChargerIds,
    Cursor,
    Limit,
    QueryModel,
    Status,
    fold_duplicates,
)
from shared.charger_view import ChargerView
from shared.status import PartnerStatus


class BatchStatusRequest(BodyModel):
    """Up to 1000 charger ids whose status to read."""

    ids: ChargerIds


_ID = CHARGER_ID_PATTERN.strip("^$")


def _comma_separated(value: Any) -> Any:
    """`?ids=A,B&ids=C` arrives as ["A,B", "C"] (or "A,B" alone): one list of ids."""
    parts = value if isinstance(value, list) else [value]
    if not all(isinstance(part, str) for part in parts):
        return value  # the list validation says what is wrong
    return [charger_id for part in parts for charger_id in part.split(",")]


class BatchStatusQuery(QueryModel):
    # Validated as the ids of a POST body are; documented as what a URL carries: one
    # comma-separated string per `ids` parameter, whose pattern each id must match.
    ids: Annotated[
        list[ChargerId],
        Field(min_length=1, max_length=MAX_BATCH),
        AfterValidator(fold_duplicates),
        BeforeValidator(
            _comma_separated,
            json_schema_input_type=Annotated[str, Field(pattern=f"^{_ID}(,{_ID})*$")],
        ),
    ] = Field(
        description=f"Comma-separated charger ids (or `ids` repeated), at most {MAX_BATCH};"
        " use POST for long lists",
        examples=["CP-0001,CP-0002"],
    )


_STATUS = "|".join(PartnerStatus)
STATUS_LIST_PATTERN = f"^({_STATUS})(,({_STATUS}))*$"


class ListQuery(QueryModel):
    limit: Limit = 50
    cursor: Cursor | None = None
    status: str | None = Field(
        None,
        description="Only chargers in one of these statuses (comma-separated). A filtered page"
        " may hold fewer than `limit` chargers while `nextCursor` still leads on.",
        examples=["CHARGING,AVAILABLE"],
        json_schema_extra={"pattern": STATUS_LIST_PATTERN},
    )


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


def connectors_json(view: ChargerView) -> list[ConnectorJson]:
    return [
        {
            "connectorId": c.connector_id,
            "status": c.status,
            "ocppStatus": c.ocpp_status,
            "transactionId": c.transaction_id,
        }
        for c in view.connectors
    ]


def charger_json(view: ChargerView) -> ChargerJson:
    # a plain function rather than a response model: a batch renders 1000 of these per request
    return {
        "chargerId": view.charger_id,
        "status": view.status,
        "online": view.online,
        "protocol": view.protocol,
        "connectors": connectors_json(view),
        "meterKwh": view.meter_kwh,
        "meterTimestamp": view.meter_timestamp,
        "statusTimestamp": view.status_timestamp,
        "lastSeen": view.last_seen,
    }
