"""The operator's admin API: console sessions, partners, API keys, registered chargers, their
history, local authorization lists, the audit log, the system."""

from __future__ import annotations

from typing import Any, Literal

from evcharging_client.models.base import Model
from evcharging_client.models.chargers import Connector
from evcharging_client.models.commands import Command
from evcharging_client.models.health import ReadyChecks


class ConsoleSession(Model):
    """An operator console session: the CSRF token its changes must send."""

    actor: str
    csrf_token: str
    created_at: str
    expires_at: str


class ConsoleSessionEnded(Model):
    ended: bool
    """Whether there was a session to end."""


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
    connectors: list[Connector] = []
    """Its connectors (1.6) or EVSEs (2.0.1), with their raw OCPP status."""
    meter_kwh: float | None = None
    meter_timestamp: str | None = None
    node: str | None
    last_seen: str | None
    firmware_version: str | None


class FirmwareUpdate(Model):
    status: str
    request_id: int | None
    at: str


class Upload(Model):
    """The charger's last diagnostics (1.6) or log (2.0.1) upload."""

    kind: Literal["Diagnostics", "Log"]
    status: str
    request_id: int | None
    at: str


class ReportPart(Model):
    """The last NotifyReport part (2.0.1)."""

    request_id: int | None
    seq_no: int | None
    more: bool
    items: int
    at: str


class NotifyEvent(Model):
    event_data: list[dict[str, Any]]
    at: str


class SecurityEvent(Model):
    type: str
    timestamp: str
    tech_info: str | None
    at: str


class ChargerReports(Model):
    """What a charger last reported for its operator; None where it reported nothing."""

    firmware_update: FirmwareUpdate | None
    last_upload: Upload | None
    last_report: ReportPart | None
    last_event: NotifyEvent | None
    security_events: list[SecurityEvent]


class AdminChargerDetail(AdminCharger):
    """One registered charger with what it last reported."""

    reports: ChargerReports


class AdminChargerPage(Model):
    chargers: list[AdminCharger]
    next_cursor: str | None


class RegisteredCharger(Model):
    """A charger just registered or given a new password, and the password if one was
    generated (shown this once)."""

    charger: AdminCharger
    password: str | None


class LocalListSent(Model):
    """A local authorization list sent to a charger (SendLocalList), and its answer."""

    command_id: str
    charger_id: str
    version_number: int
    update_type: Literal["Full", "Differential"]
    changed: list[str]
    """Token ids added or changed."""
    removed: list[str]
    """Token ids removed."""
    outcome: Literal["ACCEPTED", "REJECTED"]
    """REJECTED: the charger answered Failed, NotSupported or VersionMismatch."""
    charger_response: dict[str, Any]


class LocalListEntry(Model):
    id_token: str
    status: Literal["Accepted", "Blocked", "Expired"]
    expires_at: str | None
    group_id: str | None
    type: str


class LocalList(Model):
    """The local authorization list a charger holds, as it last accepted it."""

    charger_id: str
    version_number: int
    """0: no list sent yet."""
    sent_at: str | None
    pending: bool = False
    """A token change has not reached the charger yet; a gateway sends it once connected."""
    entries: list[LocalListEntry]


class AuditEntry(Model):
    at: str
    actor: str
    action: str
    target: str | None
    details: Any = None


class AuditPage(Model):
    entries: list[AuditEntry]
    next_cursor: str | None


class StatusChange(Model):
    """A connector's status notification, as recorded in the history."""

    received_at: str
    timestamp: str | None
    connector_id: int
    status: str
    """The partner status it maps to."""
    ocpp_status: str
    error_code: str | None


class StatusChangePage(Model):
    """One page of status changes, newest first."""

    status_events: list[StatusChange]
    next_cursor: str | None


class AdminCommand(Command):
    """A command as operators see it: who sent it, and what it asked for."""

    partner_id: str | None
    """The partner's; None for an operator's command."""
    actor: str | None
    request: Any = None
    """What it asked for, passwords and keys masked."""


class AdminCommandPage(Model):
    """One page of a charger's commands, newest first."""

    commands: list[AdminCommand]
    next_cursor: str | None


class Node(Model):
    """A csms node and the registered chargers connected to it."""

    node_id: str
    alive: bool
    alive_until: str
    chargers: int


class FleetCount(Model):
    registered: int
    online: int
    counted_at: str


class RecorderShard(Model):
    """The recorders' progress on one event stream shard."""

    shard: int
    length: int
    pending: int
    undelivered: int | None
    lag_seconds: float


class RecorderState(Model):
    started: bool
    lag_seconds: float | None
    shards: list[RecorderShard]


class SystemState(Model):
    """Storage health, csms nodes with their chargers, recorder lag; None where the storage it
    comes from does not answer."""

    checks: ReadyChecks
    draining: bool
    chargers: FleetCount | None
    nodes: list[Node] | None
    recorder: RecorderState | None
