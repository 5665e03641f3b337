"""The registry of partners, API keys, chargers and tokens: PostgreSQL is the truth, and the
ownership and credentials csms and gateway need on every request are projected into each
charger's Redis hash (and each token's status into its own) so that no request needs a
database round trip.

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
from shared.registry.projection import (
    announce,
    change_message,
    ensure_synced,
    sync_chargers,
    sync_tokens,
)
from shared.registry.records import (
    AuditEntry,
    ChargerRecord,
    KeyInfo,
    KeyRecord,
    Partner,
    TokenRecord,
)
from shared.registry.tokens import (
    TOKEN_STATUSES,
    TOKEN_TYPES,
    create_token,
    delete_token,
    get_token,
    list_tokens,
    put_token,
    update_token,
)

__all__ = [
    "PARTNER_STATUSES",
    "PROTOCOLS",
    "TOKEN_STATUSES",
    "TOKEN_TYPES",
    "AuditEntry",
    "ChargerRecord",
    "Conflict",
    "KeyInfo",
    "KeyRecord",
    "NotFound",
    "Partner",
    "RegistryError",
    "TokenRecord",
    "announce",
    "assign_charger",
    "audit",
    "audit_entries",
    "change_message",
    "create_partner",
    "create_token",
    "decommission_charger",
    "delete_partner",
    "delete_token",
    "ensure_synced",
    "find_key",
    "get_charger",
    "get_key",
    "get_partner",
    "get_token",
    "issue_api_key",
    "list_chargers",
    "list_keys",
    "list_partners",
    "list_tokens",
    "put_token",
    "register_charger",
    "revoke_key",
    "rotate_key",
    "set_charger_password",
    "set_partner_status",
    "sync_chargers",
    "sync_tokens",
    "update_partner",
    "update_token",
]
