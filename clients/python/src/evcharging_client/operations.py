"""Every API operation as a request description (a :class:`Call`), shared by the synchronous
and the asynchronous clients: what to send and how to read the answer, but no I/O."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import quote

from evcharging_client import models as m

T = TypeVar("T")

API = "/api/v1"
ADMIN = f"{API}/admin"
# Beyond this many characters of ids a batch read goes in a POST body: URLs have limits.
MAX_IDS_IN_URL = 1500

Action = Literal["on", "off"]
Availability = Literal["AVAILABLE", "INOPERATIVE"]
Parse = Callable[[Any, Mapping[str, str]], T]


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request of one operation, and how to turn its successful answer into a result."""

    operation_id: str
    method: str
    path: str
    parse: Parse[T]
    params: dict[str, str] = field(default_factory=dict)
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    replayable: bool = True
    """Sending it twice does nothing twice (a read, or a command under an Idempotency-Key)."""

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("Idempotency-Key")


def segment(value: str) -> str:
    """A path segment, escaped: an id can never reach another path."""
    return quote(value, safe="")


def model(cls: type[T]) -> Parse[T]:
    def parse(body: Any, headers: Mapping[str, str]) -> T:
        return cls.model_validate(body)  # type: ignore[attr-defined,no-any-return]

    return parse


def _replayable_model(cls: type[T]) -> Parse[T]:
    """A command's answer, marked when it is the replay of an earlier request's answer."""

    def parse(body: Any, headers: Mapping[str, str]) -> T:
        replayed = headers.get("idempotent-replayed") == "true"
        return cls.model_validate({**body, "replayed": replayed})  # type: ignore[attr-defined,no-any-return]

    return parse


def _command_answer(body: Any, headers: Mapping[str, str]) -> m.CommandResult | m.CommandAccepted:
    if isinstance(body, dict) and body.get("state") == "PENDING":
        return _replayable_model(m.CommandAccepted)(body, headers)
    return _replayable_model(m.CommandResult)(body, headers)


def _query(**params: object) -> dict[str, str]:
    """Query parameters that were given, as the API spells them."""
    out: dict[str, str] = {}
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError(f"{name}: give a timezone-aware datetime")
            out[name] = value.isoformat()
        elif isinstance(value, bool):
            out[name] = "true" if value else "false"
        elif isinstance(value, (list, tuple)):
            out[name] = ",".join(str(v) for v in value)
        else:
            out[name] = str(value)
    return out


UNSET: Any = object()
"""Default of an optional argument that was not given (None may mean something)."""


def given(**fields: Any) -> dict[str, Any]:
    """The arguments that were given."""
    return {name: value for name, value in fields.items() if value is not UNSET}


def _body(**fields: object) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not None}


def _command_headers(idempotency_key: str | None, wait: bool) -> dict[str, str]:
    headers = {"Idempotency-Key": idempotency_key or str(uuid.uuid4())}
    if not wait:
        headers["Prefer"] = "respond-async"
    return headers


def _mode(wait: bool) -> dict[str, str]:
    return {} if wait else {"mode": "async"}


# operations -------------------------------------------------------------------------------


def health() -> Call[m.Health]:
    return Call("health", "GET", f"{API}/health", model(m.Health))


def ready() -> Call[m.Ready]:
    return Call("ready", "GET", f"{API}/health/ready", model(m.Ready))


def list_chargers(
    cursor: str | None, limit: int | None, status: Iterable[str] | None
) -> Call[m.ChargerPage]:
    statuses = list(status) if status is not None else None
    return Call(
        "listChargers",
        "GET",
        f"{API}/chargers",
        model(m.ChargerPage),
        params=_query(cursor=cursor, limit=limit, status=statuses),
    )


def get_charger_status(charger_id: str) -> Call[m.Charger]:
    return Call(
        "getChargerStatus", "GET", f"{API}/chargers/{segment(charger_id)}/status", model(m.Charger)
    )


def batch_status(charger_ids: Sequence[str]) -> Call[m.BatchStatus]:
    ids = list(charger_ids)
    joined = ",".join(ids)
    if len(joined) <= MAX_IDS_IN_URL:
        return Call(
            "batchStatusGet",
            "GET",
            f"{API}/chargers/batch/status",
            model(m.BatchStatus),
            params={"ids": joined},
        )
    return Call(
        "batchStatusPost",
        "POST",
        f"{API}/chargers/batch/status",
        model(m.BatchStatus),
        json={"ids": ids},
    )


def control(
    charger_id: str,
    action: Action,
    connector_id: int | None,
    id_tag: str | None,
    wait: bool,
    idempotency_key: str | None,
) -> Call[m.CommandResult | m.CommandAccepted]:
    if action not in ("on", "off"):
        raise ValueError(f"action must be 'on' or 'off', not {action!r}")
    return Call(
        "controlCharger",
        "POST",
        f"{API}/chargers/{segment(charger_id)}/control",
        _command_answer,
        params=_mode(wait),
        json=_body(action=action, connectorId=connector_id, idTag=id_tag),
        headers=_command_headers(idempotency_key, wait),
    )


def set_status(
    charger_id: str,
    status: Availability,
    connector_id: int | None,
    wait: bool,
    idempotency_key: str | None,
) -> Call[m.CommandResult | m.CommandAccepted]:
    if status not in ("AVAILABLE", "INOPERATIVE"):
        raise ValueError(f"status must be 'AVAILABLE' or 'INOPERATIVE', not {status!r}")
    return Call(
        "changeChargerStatus",
        "PUT",
        f"{API}/chargers/{segment(charger_id)}/status",
        _command_answer,
        params=_mode(wait),
        json=_body(status=status, connectorId=connector_id),
        headers=_command_headers(idempotency_key, wait),
    )


def batch_control(
    charger_ids: Sequence[str],
    action: Action,
    connector_id: int | None,
    id_tag: str | None,
    wait: bool,
    idempotency_key: str | None,
) -> Call[m.BatchControlResult]:
    if action not in ("on", "off"):
        raise ValueError(f"action must be 'on' or 'off', not {action!r}")
    return Call(
        "batchControl",
        "POST",
        f"{API}/chargers/batch/control",
        _replayable_model(m.BatchControlResult),
        params=_mode(wait),
        json=_body(ids=list(charger_ids), action=action, connectorId=connector_id, idTag=id_tag),
        headers=_command_headers(idempotency_key, wait),
    )


def get_command(command_id: str) -> Call[m.Command]:
    return Call("getCommand", "GET", f"{API}/commands/{segment(command_id)}", model(m.Command))


def meter_values(
    charger_id: str,
    cursor: str | None,
    start: datetime | None,
    end: datetime | None,
    measurand: str | None,
    limit: int | None,
) -> Call[m.MeterPage]:
    return Call(
        "getMeterValues",
        "GET",
        f"{API}/chargers/{segment(charger_id)}/meter-values",
        model(m.MeterPage),
        params=_query(**{"from": start}, to=end, measurand=measurand, limit=limit, cursor=cursor),
    )


def sessions(
    charger_id: str,
    cursor: str | None,
    start: datetime | None,
    end: datetime | None,
    limit: int | None,
) -> Call[m.SessionPage]:
    return Call(
        "getSessions",
        "GET",
        f"{API}/chargers/{segment(charger_id)}/sessions",
        model(m.SessionPage),
        params=_query(**{"from": start}, to=end, limit=limit, cursor=cursor),
    )


EVENTS_PATH = f"{API}/events"
EVENTS_OPERATION = "events"


def events_params(types: Iterable[str] | None) -> dict[str, str]:
    return _query(types=list(types) if types is not None else None)


# admin operations -------------------------------------------------------------------------


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
        json=_body(
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
        params=_query(status=status, limit=limit, cursor=cursor),
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
        json=_body(name=name, expiresAt=expires_at.isoformat() if expires_at else None),
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
        json=_body(
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
        json=_body(
            chargerId=charger_id,
            protocol=protocol,
            partnerId=partner_id,
            password=password,
            noPassword=no_password or None,
        ),
        replayable=False,
    )


def admin_list_chargers(
    cursor: str | None, partner_id: str | None, include_removed: bool, limit: int | None
) -> Call[m.AdminChargerPage]:
    return Call(
        "adminListChargers",
        "GET",
        f"{ADMIN}/chargers",
        model(m.AdminChargerPage),
        params=_query(
            partnerId=partner_id,
            includeRemoved=include_removed or None,
            limit=limit,
            cursor=cursor,
        ),
    )


def admin_get_charger(charger_id: str) -> Call[m.AdminCharger]:
    return Call(
        "adminGetCharger", "GET", f"{ADMIN}/chargers/{segment(charger_id)}", model(m.AdminCharger)
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
        params=_query(
            actor=actor,
            action=action,
            target=target,
            **{"from": start},
            to=end,
            limit=limit,
            cursor=cursor,
        ),
    )
