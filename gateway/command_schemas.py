"""Commands: what partners send to switch chargers on or off or change their availability, and
the answers, synchronous or not."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, JsonValue, field_validator
from typing_extensions import TypedDict

from gateway.schemas import (
    STATE_DESCRIPTION,
    BodyModel,
    ChargerIds,
    CommandState,
    ConnectorId,
    Cursor,
    IdTag,
    Limit,
    QueryModel,
    Timestamp,
)
from shared.ocpp_schemas import CSMS_ACTIONS


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


class AdminCommandJson(CommandJson):
    """A command as operators see it: who sent it, and what it asked for."""

    partnerId: Annotated[str | None, Field(description="The partner's; null for an operator's")]
    actor: Annotated[
        str | None, Field(description="The operator who sent it", examples=["console:alice"])
    ]
    request: Annotated[Any, Field(description="What it asked for, passwords and keys masked (***)")]


class AdminCommandPage(TypedDict):
    commands: Annotated[list[AdminCommandJson], Field(description="Newest first")]
    nextCursor: str | None


class AdminCommandsQuery(QueryModel):
    limit: Limit = 20
    cursor: Cursor | None = None


class BatchItemJson(TypedDict):
    chargerId: str
    commandId: Annotated[str | None, Field(description="Null for a charger not found")]
    state: Annotated[
        CommandState | Literal["NOT_FOUND"],
        Field(
            description=STATE_DESCRIPTION
            + "; NOT_FOUND: unknown, not the partner's, or decommissioned"
        ),
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


class UnlockRequest(BodyModel):
    """Unlock a connector (a cable stuck in the socket)."""

    connector_id: ConnectorId = Field(
        alias="connectorId", description="1.6: the connector; 2.0.1: the EVSE"
    )
    evse_connector_id: ConnectorId | None = Field(
        None,
        alias="evseConnectorId",
        description="2.0.1 only: the connector within the EVSE (default 1)",
    )


class ResetRequest(BodyModel):
    """Restart a charger."""

    type: Literal["Soft", "Hard"] = Field(
        "Soft",
        description="Soft: once idle (1.6 Soft, 2.0.1 OnIdle); Hard: at once, ending running"
        " sessions (1.6 Hard, 2.0.1 Immediate)",
        examples=["Soft"],
    )


# every message a central system sends in either version: the schema's enum for `action`
_CSMS_ACTION_NAMES: list[JsonValue] = [name for name in sorted(set().union(*CSMS_ACTIONS.values()))]


class OperatorCommand(BodyModel):
    """Any message a central system sends, in the charger's OCPP version."""

    action: str = Field(
        description="The OCPP action, e.g. Reset, UpdateFirmware, SendLocalList; one the"
        " charger's version has (422 otherwise)",
        examples=["Reset"],
        json_schema_extra={"enum": _CSMS_ACTION_NAMES},
    )
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="The OCPP request payload, as the spec's schema for that version defines it",
        examples=[{"type": "Soft"}],
    )

    @field_validator("action")
    @classmethod
    def _ocpp_action(cls, action: str) -> str:
        if not any(action in actions for actions in CSMS_ACTIONS.values()):
            raise ValueError("not a message a central system sends in OCPP 1.6 or 2.0.1")
        return action


class OperatorCommandResultJson(TypedDict):
    """The charger's answer to an operator's command."""

    commandId: Annotated[str, Field(examples=["cmd_5f2b9c0a1d3e4f60"])]
    chargerId: str
    action: Annotated[str, Field(description="The OCPP action sent")]
    protocol: Literal["ocpp1.6", "ocpp2.0.1"]
    outcome: Annotated[
        Literal["ACCEPTED", "REJECTED"],
        Field(description="REJECTED when the answer's status says the charger will not do it"),
    ]
    chargerResponse: Annotated[
        dict[str, Any], Field(description="The charger's CALLRESULT payload, as it sent it")
    ]


class OperatorCommandAcceptedJson(TypedDict):
    """An operator's command taken to run in the background."""

    commandId: str
    chargerId: str
    action: str
    state: Literal["PENDING"]
    location: Annotated[str, Field(description="Where its outcome will be")]


class LocalListUpdate(BodyModel):
    """Send a charger its local authorization list, from the token store."""

    update_type: Literal["Full", "Differential"] | None = Field(
        None,
        alias="updateType",
        description="Default: Differential once the charger holds a list, Full before",
        examples=["Full"],
    )


class LocalListEntryJson(TypedDict):
    idToken: str
    status: Literal["Accepted", "Blocked", "Expired"]
    expiresAt: str | None
    groupId: str | None
    type: str


class LocalListSentJson(TypedDict):
    """The list sent and the charger's answer."""

    commandId: str
    chargerId: str
    versionNumber: int
    updateType: Literal["Full", "Differential"]
    changed: Annotated[list[str], Field(description="Token ids added or changed")]
    removed: Annotated[list[str], Field(description="Token ids removed")]
    outcome: Annotated[
        Literal["ACCEPTED", "REJECTED"],
        Field(description="REJECTED: the charger answered Failed, NotSupported or VersionMismatch"),
    ]
    chargerResponse: dict[str, Any]


class LocalListJson(TypedDict):
    """The list a charger holds, as it last accepted it."""

    chargerId: str
    versionNumber: Annotated[int, Field(description="0: no list sent yet")]
    sentAt: str | None
    pending: Annotated[
        bool,
        Field(
            description="A change to the token store has not reached the charger yet: a"
            " gateway sends it a Differential update once it is connected"
        ),
    ]
    entries: list[LocalListEntryJson]
