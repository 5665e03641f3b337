"""Tokens (RFID idTags / OCPP 2.0.1 idTokens): what admins and partners send to register and
change them, and what they get back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema
from typing_extensions import TypedDict

from gateway.command_log import iso
from gateway.schemas import (
    ISO_EXAMPLE,
    BodyModel,
    Cursor,
    Instant,
    QueryModel,
    Timestamp,
    no_default,
)
from shared import registry
from shared.ids import PARTNER_ID_RE, TOKEN_ID_RE

TOKEN_ID_PATTERN = TOKEN_ID_RE.pattern

TokenStatus = Literal["Accepted", "Blocked", "Expired"]
TokenType = Literal[
    "Central",
    "eMAID",
    "ISO14443",
    "ISO15693",
    "KeyCode",
    "Local",
    "MacAddress",
    "NoAuthorization",
]
TokenIdField = Annotated[
    str,
    Field(
        pattern=TOKEN_ID_PATTERN,
        description="The idTag (OCPP 1.6: up to 20 characters) or idToken (2.0.1: up to 36):"
        " A-Z a-z 0-9 . _ : * -, matched whatever the case",
        examples=["04A2B3C4D5E6F7"],
    ),
]
_STATUS_DESCRIPTION = (
    "Accepted: may charge; Blocked: refused; Expired: refused as expired. An Accepted token"
    " past `expiresAt` is answered Expired"
)
_TYPE_DESCRIPTION = "OCPP 2.0.1 IdTokenEnumType; an RFID card is ISO14443 (the default)"
_GROUP_DESCRIPTION = (
    "Group id: the parentIdTag (1.6, when up to 20 characters) or groupIdToken (2.0.1) of"
    " the answer to the token"
)
_EXPIRY_DESCRIPTION = "From then on the token is answered Expired; null: never"


# requests ---------------------------------------------------------------------------------


class TokenCreate(BodyModel):
    """A token for the admin API; without `partnerId` it is the operator's own."""

    id: TokenIdField
    status: TokenStatus = Field(description=_STATUS_DESCRIPTION)
    type: TokenType | None = Field(None, description=_TYPE_DESCRIPTION)
    expires_at: Instant | None = Field(None, alias="expiresAt", description=_EXPIRY_DESCRIPTION)
    group_id: TokenIdField | None = Field(None, alias="groupId", description=_GROUP_DESCRIPTION)
    partner_id: Annotated[str, Field(pattern=PARTNER_ID_RE.pattern, examples=["acme"])] | None = (
        Field(None, alias="partnerId", description="The partner whose driver holds it")
    )


class _Changes(BodyModel):
    def changes(self) -> dict[str, Any]:
        """The fields sent (null included), by registry column."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class PartnerTokenUpdate(_Changes):
    """Only the fields sent change; null clears an expiry or a group."""

    # left out: unchanged; never null (a token always has a status and a type)
    status: TokenStatus | SkipJsonSchema[None] = Field(
        None, description=_STATUS_DESCRIPTION, json_schema_extra=no_default
    )
    type: TokenType | SkipJsonSchema[None] = Field(
        None, description=_TYPE_DESCRIPTION, json_schema_extra=no_default
    )
    expires_at: Instant | None = Field(None, alias="expiresAt", description=_EXPIRY_DESCRIPTION)
    group_id: TokenIdField | None = Field(None, alias="groupId", description=_GROUP_DESCRIPTION)


class TokenUpdate(PartnerTokenUpdate):
    """As a partner's change, and an admin may move the token to another partner (null: the
    operator's own)."""

    partner_id: Annotated[str, Field(pattern=PARTNER_ID_RE.pattern, examples=["acme"])] | None = (
        Field(None, alias="partnerId", description="The partner whose driver holds it")
    )


class PartnerTokenPut(BodyModel):
    """A partner's token as a whole (OCPI's PUT): created, or replaced if it is the
    partner's already."""

    status: TokenStatus = Field(description=_STATUS_DESCRIPTION)
    type: TokenType | None = Field(None, description=_TYPE_DESCRIPTION)
    expires_at: Instant | None = Field(None, alias="expiresAt", description=_EXPIRY_DESCRIPTION)
    group_id: TokenIdField | None = Field(None, alias="groupId", description=_GROUP_DESCRIPTION)


class PartnerTokensQuery(QueryModel):
    status: TokenStatus | None = Field(None, description="Only tokens set to this status")
    group_id: str | None = Field(
        None, alias="groupId", pattern=TOKEN_ID_PATTERN, description="Only this group's tokens"
    )
    limit: int = Field(100, ge=1, le=500, description="Page size (1-500)")
    cursor: Cursor | None = None


class TokensQuery(PartnerTokensQuery):
    partner_id: str | None = Field(
        None,
        alias="partnerId",
        pattern=PARTNER_ID_RE.pattern,
        description="Only this partner's tokens",
    )


# responses --------------------------------------------------------------------------------


class TokenJson(TypedDict):
    id: Annotated[str, Field(examples=["04A2B3C4D5E6F7"])]
    type: Annotated[str, Field(examples=["ISO14443"])]
    status: Annotated[TokenStatus, Field(description="As set")]
    effectiveStatus: Annotated[
        TokenStatus, Field(description="What an Authorize gets now (Expired past expiresAt)")
    ]
    expiresAt: str | None
    groupId: str | None
    partnerId: Annotated[str | None, Field(description="Null: the operator's own token")]
    createdAt: Timestamp
    updatedAt: Timestamp


class TokenPage(TypedDict):
    tokens: Annotated[list[TokenJson], Field(description="In id order")]
    nextCursor: str | None


TOKEN_EXAMPLE = {
    "id": "04A2B3C4D5E6F7",
    "type": "ISO14443",
    "status": "Accepted",
    "effectiveStatus": "Accepted",
    "expiresAt": None,
    "groupId": "FLEET-7",
    "partnerId": "acme",
    "createdAt": ISO_EXAMPLE,
    "updatedAt": ISO_EXAMPLE,
}


def token_json(t: registry.TokenRecord) -> TokenJson:
    return {
        "id": t.id,
        "type": t.type,
        "status": t.status,  # type: ignore[typeddict-item]
        "effectiveStatus": t.effective_status(datetime.now(UTC)),  # type: ignore[typeddict-item]
        "expiresAt": iso(t.expires_at),
        "groupId": t.group_id,
        "partnerId": t.partner_id,
        "createdAt": iso(t.created_at) or "",
        "updatedAt": iso(t.updated_at) or "",
    }
