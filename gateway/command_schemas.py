"""Commands: what partners send to switch chargers on or off or change their availability, and
the answers, synchronous or not."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field
from typing_extensions import TypedDict

from gateway.schemas import (
    STATE_DESCRIPTION,
    BodyModel,
    ChargerIds,
    CommandState,
    ConnectorId,
    IdTag,
    QueryModel,
    Timestamp,
)


class ControlRequest(BodyModel):
    """Switch a charger on (start a session) or off (stop the running session)."""

    action: Literal["on", "off"] = Field(
        description="`on`: RemoteStartTransaction (1.6) / RequestStartTransaction (2.0.1);"
        " `off`: RemoteStopTransaction / RequestStopTransaction of the running session",
        examples=["on"],
    )
    connector_id: ConnectorId | None = Field(None, alias="connectorId")
    id_tag: IdTag | None = Field(None, alias="idTag")


class StatusChangeRequest(BodyModel):
    """Make a charger (or one connector) available or take it out of service."""

    status: Literal["AVAILABLE", "INOPERATIVE"] = Field(
        description="AVAILABLE: ChangeAvailability Operative; INOPERATIVE: Inoperative",
        examples=["INOPERATIVE"],
    )
    connector_id: ConnectorId | None = Field(None, alias="connectorId")


class BatchControlRequest(BodyModel):
    """The same on/off command for up to 1000 chargers."""

    ids: ChargerIds
    action: Literal["on", "off"] = Field(description="As for a single charger", examples=["off"])
    connector_id: ConnectorId | None = Field(None, alias="connectorId")
    id_tag: IdTag | None = Field(None, alias="idTag")


class CommandQuery(QueryModel):
    mode: Literal["sync", "async"] = Field(
        "sync",
        description="`async`: answer 202 with a command id at once (as `Prefer: respond-async`"
        " does) and report the outcome at GET /commands/{commandId} and on /events",
        examples=["async"],
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
