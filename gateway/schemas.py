"""What partners send (pydantic models) and what they get back (the camelCase charger view)."""

from __future__ import annotations

from typing import Annotated, Literal, TypedDict

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from shared.charger_view import ChargerView
from shared.ids import valid_charger_id

MAX_BATCH = 1000


class _Body(BaseModel):
    # strict: "1" is not a connector id; forbid: a misspelt field is an error, not a no-op
    model_config = ConfigDict(strict=True, extra="forbid")


def _charger_id(value: str) -> str:
    if not valid_charger_id(value):
        raise ValueError("not a valid charger id")
    return value


def _unique(ids: list[str]) -> list[str]:
    """Duplicates folded, first occurrence wins, order kept."""
    return list(dict.fromkeys(ids))


ChargerId = Annotated[str, AfterValidator(_charger_id)]
ChargerIds = Annotated[
    list[ChargerId], Field(min_length=1, max_length=MAX_BATCH), AfterValidator(_unique)
]


class BatchStatusRequest(_Body):
    ids: ChargerIds


class ListQuery(BaseModel):
    # lax, unlike bodies: query parameters arrive as strings
    limit: int = Field(50, ge=1, le=100)
    cursor: str | None = None


class ControlRequest(_Body):
    action: Literal["on", "off"]
    connector_id: int | None = Field(None, alias="connectorId", ge=1)
    id_tag: str | None = Field(None, alias="idTag", min_length=1, max_length=20)


class StatusChangeRequest(_Body):
    status: Literal["AVAILABLE", "INOPERATIVE"]
    connector_id: int | None = Field(None, alias="connectorId", ge=1)


class ConnectorJson(TypedDict):
    connectorId: int
    status: str
    ocppStatus: str
    transactionId: str | None


class ChargerJson(TypedDict):
    chargerId: str
    status: str
    online: bool
    protocol: str | None
    connectors: list[ConnectorJson]
    meterKwh: float | None
    meterTimestamp: str | None
    statusTimestamp: str | None
    lastSeen: str | None


def charger_json(view: ChargerView) -> ChargerJson:
    # a plain function rather than a response model: a batch renders 1000 of these per request
    return {
        "chargerId": view.charger_id,
        "status": view.status.value,
        "online": view.online,
        "protocol": view.protocol,
        "connectors": [
            {
                "connectorId": c.connector_id,
                "status": c.status.value,
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
