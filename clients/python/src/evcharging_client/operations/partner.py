"""The partner API's operations: status, commands, history, tokens, live events, health."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from evcharging_client import models as m
from evcharging_client.operations.call import (
    API,
    Call,
    json_fields,
    model,
    query,
    replayable_model,
    segment,
    without_none,
)

# Beyond this many characters of ids a batch read goes in a POST body: URLs have limits.
MAX_IDS_IN_URL = 1500

Action = Literal["on", "off"]
Availability = Literal["AVAILABLE", "INOPERATIVE"]
ResetType = Literal["Soft", "Hard"]


def _command_answer(body: Any, headers: Mapping[str, str]) -> m.CommandResult | m.CommandAccepted:
    if isinstance(body, dict) and body.get("state") == "PENDING":
        return replayable_model(m.CommandAccepted)(body, headers)
    return replayable_model(m.CommandResult)(body, headers)


def _command_headers(idempotency_key: str | None, wait: bool) -> dict[str, str]:
    headers = {"Idempotency-Key": idempotency_key or str(uuid.uuid4())}
    if not wait:
        headers["Prefer"] = "respond-async"
    return headers


def _mode(wait: bool) -> dict[str, str]:
    return {} if wait else {"mode": "async"}


# health -----------------------------------------------------------------------------------


def health() -> Call[m.Health]:
    return Call("health", "GET", f"{API}/health", model(m.Health))


def ready() -> Call[m.Ready]:
    return Call("ready", "GET", f"{API}/health/ready", model(m.Ready))


# status -----------------------------------------------------------------------------------


def list_chargers(
    cursor: str | None, limit: int | None, status: Iterable[str] | None
) -> Call[m.ChargerPage]:
    statuses = list(status) if status is not None else None
    return Call(
        "listChargers",
        "GET",
        f"{API}/chargers",
        model(m.ChargerPage),
        params=query(cursor=cursor, limit=limit, status=statuses),
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


# commands ---------------------------------------------------------------------------------


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
        json=without_none(action=action, connectorId=connector_id, idTag=id_tag),
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
        json=without_none(status=status, connectorId=connector_id),
        headers=_command_headers(idempotency_key, wait),
    )


def unlock_connector(
    charger_id: str,
    connector_id: int,
    evse_connector_id: int | None,
    wait: bool,
    idempotency_key: str | None,
) -> Call[m.CommandResult | m.CommandAccepted]:
    return Call(
        "unlockConnector",
        "POST",
        f"{API}/chargers/{segment(charger_id)}/unlock",
        _command_answer,
        params=_mode(wait),
        json=without_none(connectorId=connector_id, evseConnectorId=evse_connector_id),
        headers=_command_headers(idempotency_key, wait),
    )


def reset(
    charger_id: str, type: ResetType, wait: bool, idempotency_key: str | None
) -> Call[m.CommandResult | m.CommandAccepted]:
    if type not in ("Soft", "Hard"):
        raise ValueError(f"type must be 'Soft' or 'Hard', not {type!r}")
    return Call(
        "resetCharger",
        "POST",
        f"{API}/chargers/{segment(charger_id)}/reset",
        _command_answer,
        params=_mode(wait),
        json={"type": type},
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
        replayable_model(m.BatchControlResult),
        params=_mode(wait),
        json=without_none(
            ids=list(charger_ids), action=action, connectorId=connector_id, idTag=id_tag
        ),
        headers=_command_headers(idempotency_key, wait),
    )


def get_command(command_id: str) -> Call[m.Command]:
    return Call("getCommand", "GET", f"{API}/commands/{segment(command_id)}", model(m.Command))


# history ----------------------------------------------------------------------------------


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
        params=query(**{"from": start}, to=end, measurand=measurand, limit=limit, cursor=cursor),
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
        params=query(**{"from": start}, to=end, limit=limit, cursor=cursor),
    )


# tokens -----------------------------------------------------------------------------------


def put_token(token_id: str, fields: Mapping[str, Any]) -> Call[m.Token]:
    return Call(
        "putToken",
        "PUT",
        f"{API}/tokens/{segment(token_id)}",
        model(m.Token),
        json=json_fields(fields),
    )


def get_token(token_id: str) -> Call[m.Token]:
    return Call("getToken", "GET", f"{API}/tokens/{segment(token_id)}", model(m.Token))


def update_token(token_id: str, changes: Mapping[str, Any]) -> Call[m.Token]:
    return Call(
        "updateToken",
        "PATCH",
        f"{API}/tokens/{segment(token_id)}",
        model(m.Token),
        json=json_fields(changes),
    )


def list_tokens(
    cursor: str | None, status: str | None, group_id: str | None, limit: int | None
) -> Call[m.TokenPage]:
    return Call(
        "listTokens",
        "GET",
        f"{API}/tokens",
        model(m.TokenPage),
        params=query(status=status, groupId=group_id, limit=limit, cursor=cursor),
    )


def token_sessions(
    token_id: str,
    cursor: str | None,
    start: datetime | None,
    end: datetime | None,
    limit: int | None,
) -> Call[m.SessionPage]:
    return Call(
        "getTokenSessions",
        "GET",
        f"{API}/tokens/{segment(token_id)}/sessions",
        model(m.SessionPage),
        params=query(**{"from": start}, to=end, limit=limit, cursor=cursor),
    )


# live events ------------------------------------------------------------------------------


EVENTS_PATH = f"{API}/events"
EVENTS_OPERATION = "events"


def events_params(types: Iterable[str] | None) -> dict[str, str]:
    return query(types=list(types) if types is not None else None)
