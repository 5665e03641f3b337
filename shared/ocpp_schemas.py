"""Validation against the official OCPP JSON schemas (shipped in the `ocpp` package),
compiled once per action with fastjsonschema so validation stays cheap on the hot path."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

import fastjsonschema

from shared.framing import CODES, OCPP16, OCPP201, Codes
from shared.ocpp_fastpath import BUILDERS

Validator = Callable[[dict[str, Any]], Any]

_FOLDERS = {OCPP16: "v16", OCPP201: "v201"}

# Every message a central system sends, per version: what the operator command API takes.
CSMS_ACTIONS: dict[str, frozenset[str]] = {
    OCPP16: frozenset(
        "CancelReservation ChangeAvailability ChangeConfiguration ClearCache"
        " ClearChargingProfile DataTransfer GetCompositeSchedule GetConfiguration GetDiagnostics"
        " GetLocalListVersion RemoteStartTransaction RemoteStopTransaction ReserveNow Reset"
        " SendLocalList SetChargingProfile TriggerMessage UnlockConnector UpdateFirmware".split()
    ),
    OCPP201: frozenset(
        "CancelReservation CertificateSigned ChangeAvailability ClearCache ClearChargingProfile"
        " ClearDisplayMessage ClearVariableMonitoring CostUpdated CustomerInformation DataTransfer"
        " DeleteCertificate GetBaseReport GetChargingProfiles GetCompositeSchedule"
        " GetDisplayMessages GetInstalledCertificateIds GetLocalListVersion GetLog"
        " GetMonitoringReport GetReport GetTransactionStatus GetVariables InstallCertificate"
        " PublishFirmware RequestStartTransaction RequestStopTransaction ReserveNow Reset"
        " SendLocalList SetChargingProfile SetDisplayMessage SetMonitoringBase SetMonitoringLevel"
        " SetNetworkProfile SetVariableMonitoring SetVariables TriggerMessage UnlockConnector"
        " UnpublishFirmware UpdateFirmware".split()
    ),
}


def _schema_name(protocol: str, action: str, response: bool) -> str:
    if protocol == OCPP16:
        return f"{action}Response.json" if response else f"{action}.json"
    return f"{action}Response.json" if response else f"{action}Request.json"


@cache
def _files(protocol: str) -> frozenset[str]:
    folder = resources.files("ocpp") / _FOLDERS[protocol] / "schemas"
    return frozenset(entry.name for entry in folder.iterdir() if entry.name.endswith(".json"))


def known(protocol: str, action: str, response: bool = False) -> bool:
    """Whether the spec defines this action (its request, or its response)."""
    return _schema_name(protocol, action, response) in _files(protocol)


def schema(protocol: str, action: str, response: bool = False) -> dict[str, Any] | None:
    """The official schema of an action's request (or response); None if the spec has none."""
    # Checked before the cache so that a charger's made-up action names cannot fill it.
    return _load(protocol, action, response) if known(protocol, action, response) else None


@cache
def _load(protocol: str, action: str, response: bool) -> dict[str, Any]:
    folder = resources.files("ocpp") / _FOLDERS[protocol] / "schemas"
    path = folder / _schema_name(protocol, action, response)
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8-sig"))
    return loaded


def validator(protocol: str, action: str, response: bool = False) -> Validator | None:
    """The validator of an action's request (or response); None if the spec has none. For the
    hottest messages a hand-written check goes first (shared/ocpp_fastpath.py)."""
    if not known(protocol, action, response):
        return None
    return _with_fast_path(protocol, action) if not response else _compile(protocol, action, True)


@cache
def _with_fast_path(protocol: str, action: str) -> Validator:
    full = _compile(protocol, action, False)
    build = BUILDERS.get((protocol, action))
    if build is None:
        return full
    fast = build(_load(protocol, action, False))

    def validate(payload: dict[str, Any]) -> Any:
        if not fast(payload):
            full(payload)  # the verdict, and the precise error, for everything else

    return validate


@cache
def _compile(protocol: str, action: str, response: bool) -> Validator:
    found = dict(_load(protocol, action, response))
    found.pop("$id", None)
    compiled: Validator = fastjsonschema.compile(found, use_default=False)
    return compiled


_RULE_CODES = {
    "required": "occurrence",
    "type": "type",
    "additionalProperties": "format",
    "enum": "property",
    "maxLength": "property",
    "minLength": "property",
    "maximum": "property",
    "minimum": "property",
    "exclusiveMaximum": "property",
    "exclusiveMinimum": "property",
    "multipleOf": "property",
    "pattern": "property",
    "format": "property",
    "uniqueItems": "property",
    "maxItems": "occurrence",
    "minItems": "occurrence",
}


def violation(
    protocol: str, action: str, payload: dict[str, Any], codes: Codes, response: bool = False
) -> tuple[str, str] | None:
    """None if the payload is valid (or the spec has no schema), else (CALLERROR code, why)."""
    validate = validator(protocol, action, response)
    return None if validate is None else check(validate, payload, codes)


def check(validate: Validator, payload: dict[str, Any], codes: Codes) -> tuple[str, str] | None:
    """None if the payload is valid, else (CALLERROR code, why)."""
    try:
        validate(payload)
    except fastjsonschema.JsonSchemaValueException as exc:
        attr = _RULE_CODES.get(exc.rule or "", "format")
        return getattr(codes, attr), exc.message
    return None


def csms_message_problem(protocol: str, action: str, payload: dict[str, Any]) -> str | None:
    """Why `action` with `payload` is not a message a central system may send in `protocol`,
    or None if it is one and matches its official schema."""
    if action not in CSMS_ACTIONS[protocol]:
        return f"OCPP {protocol[4:]} has no {action} sent by a central system"
    found = violation(protocol, action, payload, CODES[protocol])
    if found is None:
        return None
    return f"{action} does not match the OCPP {protocol[4:]} schema: {found[0]}: {found[1]}"


def problem(
    protocol: str, action: str, payload: dict[str, Any], response: bool = False
) -> str | None:
    """Why a payload does not match the spec's schema, or None if it does (or none exists)."""
    if schema(protocol, action, response) is None:
        return f"OCPP {protocol[4:]} has no {action}"
    found = violation(protocol, action, payload, CODES[protocol], response)
    return None if found is None else f"{found[0]}: {found[1]}"
