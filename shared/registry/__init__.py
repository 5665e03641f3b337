"""The registry of partners, API keys and chargers: PostgreSQL is the truth, and the
ownership and credentials csms and gateway need on every request are projected into each
charger's Redis hash so that no request needs a database round trip.

Every change is written to the audit log in the same transaction, and changes that gateways
cache (keys, partner status and limits, charger ownership) are announced on a Redis channel
so every gateway drops its cached copy at once instead of at the end of its cache TTL.

One module per concern; callers use the names re-exported here (`registry.create_partner`).
"""

from __future__ import annotations

from shared.registry.api_keys import (
    find_key,
    get_key,
    issue_api_key,
    list_keys,
    revoke_key,
    rotate_key,
)
from shared.registry.audit_log import audit, audit_entries
from shared.registry.chargers import (
    PROTOCOLS,
    assign_charger,
    decommission_charger,
    get_charger,
    list_chargers,
    register_charger,
    set_charger_password,
)
from shared.registry.errors import Conflict, NotFound, RegistryError
from shared.registry.partners import (
    PARTNER_STATUSES,
    create_partner,
    delete_partner,
    get_partner,
    list_partners,
    set_partner_status,
    update_partner,
)
from shared.registry.projection import announce, change_message, ensure_synced, sync_chargers
from shared.registry.records import AuditEntry, ChargerRecord, KeyInfo, KeyRecord, Partner

__all__ = [
    "PARTNER_STATUSES",
    "PROTOCOLS",
    "AuditEntry",
    "ChargerRecord",
    "Conflict",
    "KeyInfo",
    "KeyRecord",
    "NotFound",
    "Partner",
    "RegistryError",
    "announce",
    "assign_charger",
    "audit",
    "audit_entries",
    "change_message",
    "create_partner",
    "decommission_charger",
    "delete_partner",
    "ensure_synced",
    "find_key",
    "get_charger",
    "get_key",
    "get_partner",
    "issue_api_key",
    "list_chargers",
    "list_keys",
    "list_partners",
    "register_charger",
    "revoke_key",
    "rotate_key",
    "set_charger_password",
    "set_partner_status",
    "sync_chargers",
    "update_partner",
]
