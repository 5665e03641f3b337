"""The operator's admin API: partners, API keys, registered chargers, the audit log."""

from __future__ import annotations

from typing import Any, Literal

from evcharging_client.models.base import Model


class EffectiveLimits(Model):
    per_minute: int
    per_hour: int


class Partner(Model):
    """A partner company (admin API)."""

    id: str
    name: str
    status: Literal["active", "suspended"]
    charger_quota: int | None
    rate_limit_minute: int | None
    rate_limit_hour: int | None
    effective_rate_limits: EffectiveLimits
    chargers: int
    created_at: str


class PartnerPage(Model):
    partners: list[Partner]
    next_cursor: str | None


class PartnerDeleted(Model):
    partner_id: str
    keys_revoked: int
    chargers_unassigned: int


class ApiKey(Model):
    """An API key's record: its prefix, never the key (admin API)."""

    id: str
    partner_id: str
    prefix: str
    name: str | None
    state: str
    created_at: str
    expires_at: str | None
    revoked_at: str | None
    replaced_by: str | None


class IssuedKey(Model):
    """A new API key, shown this once, and (after a rotation) the previous key's record."""

    key: str
    api_key: ApiKey
    previous: ApiKey | None


class KeyList(Model):
    keys: list[ApiKey]


class AdminCharger(Model):
    """A registered charger (admin API)."""

    charger_id: str
    partner_id: str | None
    protocol: str | None
    vendor: str | None
    model: str | None
    has_password: bool
    registered_at: str
    assigned_at: str | None
    removed_at: str | None
    online: bool
    status: str
    node: str | None
    last_seen: str | None
    firmware_version: str | None


class AdminChargerPage(Model):
    chargers: list[AdminCharger]
    next_cursor: str | None


class RegisteredCharger(Model):
    """A charger just registered or given a new password, and the password if one was
    generated (shown this once)."""

    charger: AdminCharger
    password: str | None


class AuditEntry(Model):
    at: str
    actor: str
    action: str
    target: str | None
    details: Any = None


class AuditPage(Model):
    entries: list[AuditEntry]
    next_cursor: str | None
