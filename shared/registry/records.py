"""The registry's records as callers see them: partners, API keys, chargers, audit entries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Partner:
    id: str
    name: str
    status: str
    charger_quota: int | None
    rate_limit_minute: int | None
    rate_limit_hour: int | None
    created_at: datetime | None = None
    chargers: int | None = None  # chargers assigned now (not decommissioned), where counted


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """What authentication needs to know about a presented key."""

    key_id: str
    partner_id: str
    partner_status: str
    rate_limit_minute: int | None
    rate_limit_hour: int | None
    expires_at: datetime | None
    revoked: bool
    replaced: bool = False  # rotated: it expires (or expired) in favour of its successor


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """An API key as admins see it: never the key, only its prefix."""

    id: str
    partner_id: str
    prefix: str
    name: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    replaced_by: str | None

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "rotating" if self.replaced_by is not None else "active"


@dataclass(frozen=True, slots=True)
class ChargerRecord:
    id: str
    partner_id: str | None
    protocol: str | None
    vendor: str | None
    model: str | None
    has_password: bool
    registered_at: datetime
    assigned_at: datetime | None
    removed_at: datetime | None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    ref: str  # unique with `at`: the pagination key
    actor: str
    action: str
    target: str | None
    details: Any


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A token (RFID idTag / idToken) as registered."""

    id: str
    type: str
    status: str  # Accepted, Blocked or Expired, as set; see `effective_status`
    expires_at: datetime | None
    group_id: str | None
    partner_id: str | None
    created_at: datetime
    updated_at: datetime

    def effective_status(self, now: datetime) -> str:
        """What an Authorize gets now: an Accepted token past its expiry is Expired."""
        if self.status == "Accepted" and self.expires_at is not None and self.expires_at <= now:
            return "Expired"
        return self.status
