"""The operator's admin API: partners, API keys, registered chargers, OCPP commands, tokens,
the audit log."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from evcharging_client import models as m
from evcharging_client.operations.call import (
    API,
    Call,
    json_fields,
    model,
    query,
    segment,
    without_none,
)

ADMIN = f"{API}/admin"


def admin_create_session(actor: str | None) -> Call[m.ConsoleSession]:
    return Call(
        "adminCreateSession",
        "POST",
        f"{ADMIN}/session",
        model(m.ConsoleSession),
        json=without_none(actor=actor),
        replayable=False,
    )


def admin_get_session() -> Call[m.ConsoleSession]:
    return Call("adminGetSession", "GET", f"{ADMIN}/session", model(m.ConsoleSession))


def admin_end_session() -> Call[m.ConsoleSessionEnded]:
    return Call("adminEndSession", "DELETE", f"{ADMIN}/session", model(m.ConsoleSessionEnded))


def admin_create_partner(
    name: str,
    partner_id: str | None,
    charger_quota: int | None,
    rate_limit_minute: int | None,
    rate_limit_hour: int | None,
) -> Call[m.Partner]:
    return Call(
        "adminCreatePartner",
        "POST",
        f"{ADMIN}/partners",
        model(m.Partner),
        json=without_none(
            id=partner_id,
            name=name,
            chargerQuota=charger_quota,
            rateLimitMinute=rate_limit_minute,
            rateLimitHour=rate_limit_hour,
        ),
        replayable=False,
    )


def admin_list_partners(
    cursor: str | None, status: str | None, limit: int | None
) -> Call[m.PartnerPage]:
    return Call(
        "adminListPartners",
        "GET",
        f"{ADMIN}/partners",
        model(m.PartnerPage),
        params=query(status=status, limit=limit, cursor=cursor),
    )


def admin_get_partner(partner_id: str) -> Call[m.Partner]:
    return Call(
        "adminGetPartner", "GET", f"{ADMIN}/partners/{segment(partner_id)}", model(m.Partner)
    )


def admin_update_partner(partner_id: str, changes: Mapping[str, Any]) -> Call[m.Partner]:
    return Call(
        "adminUpdatePartner",
        "PATCH",
        f"{ADMIN}/partners/{segment(partner_id)}",
        model(m.Partner),
        json=dict(changes),
    )


def admin_suspend_partner(partner_id: str) -> Call[m.Partner]:
    return Call(
        "adminSuspendPartner",
        "POST",
        f"{ADMIN}/partners/{segment(partner_id)}/suspend",
        model(m.Partner),
    )


def admin_reactivate_partner(partner_id: str) -> Call[m.Partner]:
    return Call(
        "adminReactivatePartner",
        "POST",
        f"{ADMIN}/partners/{segment(partner_id)}/reactivate",
        model(m.Partner),
    )


def admin_delete_partner(partner_id: str) -> Call[m.PartnerDeleted]:
    return Call(
        "adminDeletePartner",
        "DELETE",
        f"{ADMIN}/partners/{segment(partner_id)}",
        model(m.PartnerDeleted),
    )


def admin_issue_key(
    partner_id: str, name: str | None, expires_at: datetime | None
) -> Call[m.IssuedKey]:
    return Call(
        "adminIssueKey",
        "POST",
        f"{ADMIN}/partners/{segment(partner_id)}/keys",
        model(m.IssuedKey),
        json=without_none(name=name, expiresAt=expires_at.isoformat() if expires_at else None),
        replayable=False,
    )


def admin_list_partner_keys(partner_id: str) -> Call[m.KeyList]:
    return Call(
        "adminListPartnerKeys",
        "GET",
        f"{ADMIN}/partners/{segment(partner_id)}/keys",
        model(m.KeyList),
    )


def admin_find_keys(prefix: str) -> Call[m.KeyList]:
    return Call(
        "adminFindKeys", "GET", f"{ADMIN}/keys", model(m.KeyList), params={"prefix": prefix}
    )


def admin_rotate_key(
    key_id: str, overlap_seconds: int | None, expires_at: datetime | None
) -> Call[m.IssuedKey]:
    return Call(
        "adminRotateKey",
        "POST",
        f"{ADMIN}/keys/{segment(key_id)}/rotate",
        model(m.IssuedKey),
        json=without_none(
            overlapSeconds=overlap_seconds,
            expiresAt=expires_at.isoformat() if expires_at else None,
        ),
        replayable=False,
    )


def admin_revoke_key(key_id: str) -> Call[m.ApiKey]:
    return Call("adminRevokeKey", "POST", f"{ADMIN}/keys/{segment(key_id)}/revoke", model(m.ApiKey))


def admin_register_charger(
    charger_id: str,
    protocol: str,
    partner_id: str | None,
    password: str | None,
    no_password: bool,
) -> Call[m.RegisteredCharger]:
    return Call(
        "adminRegisterCharger",
        "POST",
        f"{ADMIN}/chargers",
        model(m.RegisteredCharger),
        json=without_none(
            chargerId=charger_id,
            protocol=protocol,
            partnerId=partner_id,
            password=password,
            noPassword=no_password or None,
        ),
        replayable=False,
    )


def admin_list_chargers(
    cursor: str | None,
    partner_id: str | None,
    include_removed: bool,
    limit: int | None,
    search: str | None = None,
    statuses: Sequence[str] | None = None,
    online: bool | None = None,
) -> Call[m.AdminChargerPage]:
    return Call(
        "adminListChargers",
        "GET",
        f"{ADMIN}/chargers",
        model(m.AdminChargerPage),
        params=query(
            partnerId=partner_id,
            includeRemoved=include_removed or None,
            q=search,
            status=list(statuses) if statuses is not None else None,
            online=online,
            limit=limit,
            cursor=cursor,
        ),
    )


def admin_get_charger(charger_id: str) -> Call[m.AdminChargerDetail]:
    return Call(
        "adminGetCharger",
        "GET",
        f"{ADMIN}/chargers/{segment(charger_id)}",
        model(m.AdminChargerDetail),
    )


def admin_decommission_charger(charger_id: str) -> Call[m.AdminCharger]:
    return Call(
        "adminDecommissionCharger",
        "DELETE",
        f"{ADMIN}/chargers/{segment(charger_id)}",
        model(m.AdminCharger),
    )


def admin_assign_charger(charger_id: str, partner_id: str) -> Call[m.AdminCharger]:
    return Call(
        "adminAssignCharger",
        "PUT",
        f"{ADMIN}/chargers/{segment(charger_id)}/partner",
        model(m.AdminCharger),
        json={"partnerId": partner_id},
    )


def admin_unassign_charger(charger_id: str) -> Call[m.AdminCharger]:
    return Call(
        "adminUnassignCharger",
        "DELETE",
        f"{ADMIN}/chargers/{segment(charger_id)}/partner",
        model(m.AdminCharger),
    )


def admin_set_charger_password(
    charger_id: str, password: str | None, no_password: bool
) -> Call[m.RegisteredCharger]:
    return Call(
        "adminSetChargerPassword",
        "PUT",
        f"{ADMIN}/chargers/{segment(charger_id)}/password",
        model(m.RegisteredCharger),
        json=without_none(password=password, noPassword=no_password or None),
        # a retry after a lost answer would generate another password than the one lost
        replayable=False,
    )


def _operator_command_answer(
    body: Any, headers: Mapping[str, str]
) -> m.OperatorCommandResult | m.OperatorCommandAccepted:
    if isinstance(body, dict) and body.get("state") == "PENDING":
        return model(m.OperatorCommandAccepted)(body, headers)
    return model(m.OperatorCommandResult)(body, headers)


def admin_send_command(
    charger_id: str, action: str, params: Mapping[str, Any] | None, wait: bool
) -> Call[m.OperatorCommandResult | m.OperatorCommandAccepted]:
    return Call(
        "adminSendCommand",
        "POST",
        f"{ADMIN}/chargers/{segment(charger_id)}/commands",
        _operator_command_answer,
        params={} if wait else {"mode": "async"},
        json={"action": action, "params": dict(params or {})},
        # no Idempotency-Key here: a retry after a lost answer could send it twice
        replayable=False,
    )


def admin_get_command(command_id: str) -> Call[m.Command]:
    return Call(
        "adminGetCommand", "GET", f"{ADMIN}/commands/{segment(command_id)}", model(m.Command)
    )


def admin_send_local_list(charger_id: str, update_type: str | None) -> Call[m.LocalListSent]:
    return Call(
        "adminSendLocalList",
        "POST",
        f"{ADMIN}/chargers/{segment(charger_id)}/local-list",
        model(m.LocalListSent),
        json=without_none(updateType=update_type),
        # each list the charger accepts gets the next version: never sent twice on a guess
        replayable=False,
    )


def admin_get_local_list(charger_id: str) -> Call[m.LocalList]:
    return Call(
        "adminGetLocalList",
        "GET",
        f"{ADMIN}/chargers/{segment(charger_id)}/local-list",
        model(m.LocalList),
    )


def admin_audit_log(
    cursor: str | None,
    actor: str | None,
    action: str | None,
    target: str | None,
    start: datetime | None,
    end: datetime | None,
    limit: int | None,
) -> Call[m.AuditPage]:
    return Call(
        "adminAuditLog",
        "GET",
        f"{ADMIN}/audit",
        model(m.AuditPage),
        params=query(
            actor=actor,
            action=action,
            target=target,
            **{"from": start},
            to=end,
            limit=limit,
            cursor=cursor,
        ),
    )


def admin_create_token(token_id: str, fields: Mapping[str, Any]) -> Call[m.Token]:
    return Call(
        "adminCreateToken",
        "POST",
        f"{ADMIN}/tokens",
        model(m.Token),
        json={"id": token_id, **json_fields(fields)},
        replayable=False,
    )


def admin_list_tokens(
    cursor: str | None,
    partner_id: str | None,
    status: str | None,
    group_id: str | None,
    limit: int | None,
) -> Call[m.TokenPage]:
    return Call(
        "adminListTokens",
        "GET",
        f"{ADMIN}/tokens",
        model(m.TokenPage),
        params=query(
            partnerId=partner_id, status=status, groupId=group_id, limit=limit, cursor=cursor
        ),
    )


def admin_get_token(token_id: str) -> Call[m.Token]:
    return Call("adminGetToken", "GET", f"{ADMIN}/tokens/{segment(token_id)}", model(m.Token))


def admin_update_token(token_id: str, changes: Mapping[str, Any]) -> Call[m.Token]:
    return Call(
        "adminUpdateToken",
        "PATCH",
        f"{ADMIN}/tokens/{segment(token_id)}",
        model(m.Token),
        json=json_fields(changes),
    )


def admin_delete_token(token_id: str) -> Call[m.Token]:
    return Call("adminDeleteToken", "DELETE", f"{ADMIN}/tokens/{segment(token_id)}", model(m.Token))


# a charger's history ----------------------------------------------------------------------


def admin_charger_status_events(
    charger_id: str,
    cursor: str | None,
    start: datetime | None,
    end: datetime | None,
    limit: int | None,
) -> Call[m.StatusChangePage]:
    return Call(
        "adminChargerStatusEvents",
        "GET",
        f"{ADMIN}/chargers/{segment(charger_id)}/status-events",
        model(m.StatusChangePage),
        params=query(**{"from": start}, to=end, limit=limit, cursor=cursor),
    )


def admin_charger_meter_values(
    charger_id: str,
    cursor: str | None,
    start: datetime | None,
    end: datetime | None,
    measurand: str | None,
    bucket_seconds: int | None,
    limit: int | None,
) -> Call[m.MeterPage]:
    return Call(
        "adminChargerMeterValues",
        "GET",
        f"{ADMIN}/chargers/{segment(charger_id)}/meter-values",
        model(m.MeterPage),
        params=query(
            **{"from": start},
            to=end,
            measurand=measurand,
            bucketSeconds=bucket_seconds,
            limit=limit,
            cursor=cursor,
        ),
    )


def admin_charger_sessions(
    charger_id: str,
    cursor: str | None,
    start: datetime | None,
    end: datetime | None,
    limit: int | None,
) -> Call[m.SessionPage]:
    return Call(
        "adminChargerSessions",
        "GET",
        f"{ADMIN}/chargers/{segment(charger_id)}/sessions",
        model(m.SessionPage),
        params=query(**{"from": start}, to=end, limit=limit, cursor=cursor),
    )


def admin_charger_commands(
    charger_id: str, cursor: str | None, limit: int | None
) -> Call[m.AdminCommandPage]:
    return Call(
        "adminChargerCommands",
        "GET",
        f"{ADMIN}/chargers/{segment(charger_id)}/commands",
        model(m.AdminCommandPage),
        params=query(limit=limit, cursor=cursor),
    )


def admin_system() -> Call[m.SystemState]:
    return Call("adminSystem", "GET", f"{ADMIN}/system", model(m.SystemState))


# live events of every charger --------------------------------------------------------------

ADMIN_EVENTS_PATH = f"{ADMIN}/events"
ADMIN_EVENTS_OPERATION = "adminEvents"
