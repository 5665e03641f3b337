"""What the admin API takes (pydantic models) and answers (TypedDicts), and the conversions
from registry records."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema
from typing_extensions import TypedDict

from gateway.charger_schemas import STATUS_LIST_PATTERN, ConnectorJson, connectors_json
from gateway.command_log import iso
from gateway.schemas import (
    ASCII_PRINTABLE,
    CHARGER_ID_PATTERN,
    PRINTABLE,
    WHOLE,
    ChargerId,
    Cursor,
    Instant,
    Status,
    Timestamp,
    no_default,
)
from shared import registry
from shared.charger_view import ChargerView
from shared.ids import PARTNER_ID_RE
from shared.redis_keys import F

PartnerIdField = Annotated[
    str,
    Field(
        pattern=PARTNER_ID_RE.pattern,
        description="Lower-case letters, digits, _ and -; 1-48, starting with a letter or digit",
        examples=["acme"],
    ),
]
Quota = Annotated[
    int,
    Field(ge=0, le=100_000_000, description="Most chargers the partner may hold", examples=[1000]),
    WHOLE,
]
PerMinute = Annotated[
    int, Field(ge=1, le=1_000_000, description="Requests per minute", examples=[100]), WHOLE
]
PerHour = Annotated[
    int, Field(ge=1, le=100_000_000, description="Requests per hour", examples=[1000]), WHOLE
]
PartnerName = Annotated[
    str, Field(min_length=1, max_length=200, pattern=PRINTABLE, examples=["ACME Mobility"])
]


class _Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", populate_by_name=True)


class _Query(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")  # as gateway/schemas.py


# requests ---------------------------------------------------------------------------------


class PartnerCreate(_Body):
    """A new partner; without limits it gets the gateway's defaults, without a quota no cap."""

    id: PartnerIdField | None = Field(None, description="Default: generated")
    name: PartnerName
    charger_quota: Quota | None = Field(None, alias="chargerQuota")
    rate_limit_minute: PerMinute | None = Field(None, alias="rateLimitMinute")
    rate_limit_hour: PerHour | None = Field(None, alias="rateLimitHour")


class PartnerUpdate(_Body):
    """Only the fields sent change; null resets a quota (no cap) or a limit (the default)."""

    # left out: unchanged; never null (a partner always has a name)
    name: PartnerName | SkipJsonSchema[None] = Field(None, json_schema_extra=no_default)
    charger_quota: Quota | None = Field(None, alias="chargerQuota")
    rate_limit_minute: PerMinute | None = Field(None, alias="rateLimitMinute")
    rate_limit_hour: PerHour | None = Field(None, alias="rateLimitHour")

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


class PartnersQuery(_Query):
    status: Literal["active", "suspended"] | None = Field(
        None, description="Only partners in this status"
    )
    limit: int = Field(100, ge=1, le=500, description="Page size (1-500)")
    cursor: Cursor | None = None


class KeyIssue(_Body):
    name: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        pattern=PRINTABLE,
        description="A label",
        examples=["production"],
    )
    expires_at: Instant | None = Field(
        None,
        alias="expiresAt",
        description="When the key stops working; default never",
        examples=["2027-01-01T00:00:00Z"],
    )


class KeyRotate(_Body):
    overlap_seconds: Annotated[
        int,
        Field(
            ge=0,
            le=30 * 86_400,
            description="How long the old key keeps working beside the new one (0: not at all)",
            examples=[86_400],
        ),
        WHOLE,
    ] = Field(86_400, alias="overlapSeconds")
    expires_at: Instant | None = Field(
        None, alias="expiresAt", description="Expiry of the new key; default never"
    )


class KeysQuery(_Query):
    prefix: str = Field(
        min_length=6,
        max_length=128,
        pattern=r"^[A-Za-z0-9_]+$",
        description="A key's first characters (at least `evcs_` and one more), e.g. from a"
        " secret scanner's report; a whole key works too",
        examples=["evcs_4kT9"],
    )


class ChargerPassword(_Body):
    password: str | None = Field(
        None,
        min_length=16,
        max_length=40,
        pattern=r"^[\x21-\x7e]+$",
        description="Charge point password (HTTP Basic, OCPP security profile 1-2);"
        " default: one is generated and answered once",
    )
    no_password: bool = Field(
        False,
        alias="noPassword",
        description="No password (for security profile 3 or trusted networks)",
    )


class ChargerRegister(ChargerPassword):
    charger_id: ChargerId = Field(alias="chargerId")
    protocol: Literal["ocpp1.6", "ocpp2.0.1"] = Field(examples=["ocpp1.6"])
    partner_id: PartnerIdField | None = Field(
        None, alias="partnerId", description="Assign to this partner at once"
    )


class ChargerAssign(_Body):
    partner_id: PartnerIdField = Field(alias="partnerId")


class ChargersQuery(_Query):
    partner_id: str | None = Field(
        None,
        alias="partnerId",
        pattern=PARTNER_ID_RE.pattern,
        description="Only this partner's chargers",
    )
    include_removed: bool = Field(
        False, alias="includeRemoved", description="Also list decommissioned chargers"
    )
    q: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9._:*\-]{1,48}$",
        description="Only chargers whose id contains this (any case)",
        examples=["DEMO"],
    )
    status: str | None = Field(
        None,
        description="Only chargers in one of these statuses (comma-separated). Status and"
        " `online` live in Redis, where no index can answer: a filtered page may hold fewer"
        " than `limit` chargers (even none) while `nextCursor` still leads on.",
        examples=["CHARGING,AVAILABLE"],
        json_schema_extra={"pattern": STATUS_LIST_PATTERN},
    )
    online: bool | None = Field(
        None, description="Only chargers connected now (true) or not (false)"
    )
    limit: int = Field(100, ge=1, le=500, description="Page size (1-500)")
    cursor: Cursor | None = None


class AuditQuery(_Query):
    actor: str | None = Field(
        None,
        max_length=128,
        pattern=ASCII_PRINTABLE,
        description="e.g. admin:alice, cli:root, partner:acme",
    )
    action: str | None = Field(
        None,
        max_length=64,
        pattern=r"^[a-z_.]*$",
        description="An action or its prefix: partner., api_key.revoke, command.",
        examples=["api_key."],
    )
    target: str | None = Field(
        None, pattern=CHARGER_ID_PATTERN, description="A partner or charger id", examples=["acme"]
    )
    from_: Instant | None = Field(None, alias="from", description="Since (inclusive)")
    to: Instant | None = Field(None, description="Until (exclusive)")
    limit: int = Field(100, ge=1, le=1000, description="Page size (1-1000)")
    cursor: Cursor | None = None


# responses --------------------------------------------------------------------------------


class EffectiveLimits(TypedDict):
    perMinute: int
    perHour: int


class PartnerJson(TypedDict):
    id: Annotated[str, Field(examples=["acme"])]
    name: str
    status: Literal["active", "suspended"]
    chargerQuota: Annotated[int | None, Field(description="Null: no cap")]
    rateLimitMinute: Annotated[int | None, Field(description="Null: the gateway default")]
    rateLimitHour: Annotated[int | None, Field(description="Null: the gateway default")]
    effectiveRateLimits: EffectiveLimits
    chargers: Annotated[int, Field(description="Chargers assigned now")]
    createdAt: Timestamp


class PartnerPage(TypedDict):
    partners: list[PartnerJson]
    nextCursor: str | None


class PartnerDeletedJson(TypedDict):
    partnerId: str
    keysRevoked: int
    chargersUnassigned: int


class KeyJson(TypedDict):
    id: Annotated[str, Field(examples=["key_8c1d2e3f4a5b6c7d"])]
    partnerId: str
    prefix: Annotated[
        str, Field(description="The key's first characters", examples=["evcs_4kT9aB2x"])
    ]
    name: str | None
    state: Annotated[
        Literal["active", "rotating", "expired", "revoked"],
        Field(description="rotating: replaced, still working until expiresAt"),
    ]
    createdAt: Timestamp
    expiresAt: str | None
    revokedAt: str | None
    replacedBy: Annotated[str | None, Field(description="The key that replaced it")]


class KeyListJson(TypedDict):
    keys: list[KeyJson]


class IssuedKeyJson(TypedDict):
    key: Annotated[
        str,
        Field(
            description="The API key. Shown only in this answer: only its hash is stored",
            examples=["evcs_4kT9aB2x..."],
        ),
    ]
    apiKey: KeyJson
    previous: Annotated[KeyJson | None, Field(description="For a rotation: the key replaced")]


class AdminChargerJson(TypedDict):
    chargerId: str
    partnerId: str | None
    protocol: str | None
    vendor: str | None
    model: str | None
    hasPassword: bool
    registeredAt: Timestamp
    assignedAt: str | None
    removedAt: Annotated[str | None, Field(description="Set once decommissioned")]
    online: Annotated[bool, Field(description="Connected now, on a live csms node")]
    status: Status
    connectors: Annotated[
        list[ConnectorJson],
        Field(description="Its connectors (1.6) or EVSEs (2.0.1), with their raw OCPP status"),
    ]
    meterKwh: Annotated[float | None, Field(description="Latest energy register reading, kWh")]
    meterTimestamp: Annotated[str | None, Field(description="The charger's time of that reading")]
    node: Annotated[
        str | None,
        Field(description="The csms node holding its connection; null while offline"),
    ]
    lastSeen: Annotated[str | None, Field(description="When the charger last sent anything")]
    firmwareVersion: Annotated[str | None, Field(description="As its last boot reported")]


class FirmwareUpdateJson(TypedDict):
    status: Annotated[str, Field(description="The charger's last FirmwareStatusNotification")]
    requestId: int | None
    at: Timestamp


class UploadJson(TypedDict):
    kind: Literal["Diagnostics", "Log"]
    status: Annotated[str, Field(examples=["Uploaded"])]
    requestId: int | None
    at: Timestamp


class ReportJson(TypedDict):
    requestId: int | None
    seqNo: int | None
    more: Annotated[bool, Field(description="More parts were to follow (tbc)")]
    items: Annotated[int, Field(description="Components and variables in this part")]
    at: Timestamp


class NotifyEventJson(TypedDict):
    eventData: list[dict[str, Any]]
    at: Timestamp


class SecurityEventJson(TypedDict):
    type: Annotated[str, Field(examples=["FirmwareUpdated"])]
    timestamp: Annotated[str, Field(description="As the charger stamped it")]
    techInfo: str | None
    at: Timestamp


class ChargerReportsJson(TypedDict):
    """What the charger last reported for its operator; null where it reported nothing."""

    firmwareUpdate: FirmwareUpdateJson | None
    lastUpload: Annotated[
        UploadJson | None, Field(description="Diagnostics (1.6) or log (2.0.1) upload")
    ]
    lastReport: Annotated[
        ReportJson | None, Field(description="The last NotifyReport part (2.0.1)")
    ]
    lastEvent: Annotated[NotifyEventJson | None, Field(description="The last NotifyEvent")]
    securityEvents: Annotated[list[SecurityEventJson], Field(description="Newest first, 10")]


class AdminChargerDetailJson(AdminChargerJson):
    reports: ChargerReportsJson


class RegisteredChargerJson(TypedDict):
    charger: AdminChargerJson
    password: Annotated[
        str | None,
        Field(description="The generated charge point password, shown only here; null if none"),
    ]


class AdminChargerPage(TypedDict):
    chargers: list[AdminChargerJson]
    nextCursor: str | None


class AuditEntryJson(TypedDict):
    at: Timestamp
    actor: Annotated[str, Field(examples=["admin:alice"])]
    action: Annotated[str, Field(examples=["api_key.revoke"])]
    target: str | None
    details: Any


class AuditPage(TypedDict):
    entries: Annotated[list[AuditEntryJson], Field(description="Newest first")]
    nextCursor: str | None


# conversions ------------------------------------------------------------------------------


def partner_json(p: registry.Partner, defaults: tuple[int, int]) -> PartnerJson:
    return {
        "id": p.id,
        "name": p.name,
        "status": "suspended" if p.status == "suspended" else "active",
        "chargerQuota": p.charger_quota,
        "rateLimitMinute": p.rate_limit_minute,
        "rateLimitHour": p.rate_limit_hour,
        "effectiveRateLimits": {
            "perMinute": p.rate_limit_minute or defaults[0],
            "perHour": p.rate_limit_hour or defaults[1],
        },
        "chargers": p.chargers or 0,
        "createdAt": iso(p.created_at) or "",
    }


def key_json(k: registry.KeyInfo) -> KeyJson:
    return {
        "id": k.id,
        "partnerId": k.partner_id,
        "prefix": k.prefix,
        "name": k.name,
        "state": k.state(datetime.now(UTC)),  # type: ignore[typeddict-item]
        "createdAt": iso(k.created_at) or "",
        "expiresAt": iso(k.expires_at),
        "revokedAt": iso(k.revoked_at),
        "replacedBy": k.replaced_by,
    }


def charger_admin_json(
    c: registry.ChargerRecord, fields: dict[str, str], live: ChargerView
) -> AdminChargerJson:
    """The registry row, with the live state from the charger's hash (`fields`) and its view."""
    return {
        "chargerId": c.id,
        "partnerId": c.partner_id,
        "protocol": c.protocol,
        "vendor": c.vendor,
        "model": c.model,
        "hasPassword": c.has_password,
        "registeredAt": iso(c.registered_at) or "",
        "assignedAt": iso(c.assigned_at),
        "removedAt": iso(c.removed_at),
        "online": live.online,
        "status": live.status,
        "connectors": connectors_json(live),
        "meterKwh": live.meter_kwh,
        "meterTimestamp": live.meter_timestamp,
        "node": fields.get(F.NODE) if live.online else None,
        "lastSeen": live.last_seen,
        "firmwareVersion": fields.get(F.FIRMWARE) or None,
    }


def audit_json(e: registry.AuditEntry) -> AuditEntryJson:
    return {
        "at": iso(e.at) or "",
        "actor": e.actor,
        "action": e.action,
        "target": e.target,
        "details": e.details,
    }
