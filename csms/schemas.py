"""Validation against the official OCPP JSON schemas (shipped in the `ocpp` package),
compiled once per action with fastjsonschema so validation stays cheap on the hot path."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

import fastjsonschema

from csms.framing import OCPP16, Codes

Validator = Callable[[dict[str, Any]], Any]

_FOLDERS = {OCPP16: "v16", "ocpp2.0.1": "v201"}


def _schema_name(protocol: str, action: str, response: bool) -> str:
    if protocol == OCPP16:
        return f"{action}Response.json" if response else f"{action}.json"
    return f"{action}Response.json" if response else f"{action}Request.json"


@cache
def validator(protocol: str, action: str, response: bool = False) -> Validator | None:
    """The compiled validator for an action's request (or response); None if the spec has none."""
    folder = resources.files("ocpp") / _FOLDERS[protocol] / "schemas"
    path = folder / _schema_name(protocol, action, response)
    if not path.is_file():
        return None
    schema = json.loads(path.read_text(encoding="utf-8"))
    schema.pop("$id", None)
    compiled: Validator = fastjsonschema.compile(schema, use_default=False)
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
    "pattern": "property",
    "format": "property",
    "maxItems": "occurrence",
    "minItems": "occurrence",
}


def violation(
    protocol: str, action: str, payload: dict[str, Any], codes: Codes
) -> tuple[str, str] | None:
    """None if the payload is valid, else (CALLERROR code, description)."""
    check = validator(protocol, action)
    if check is None:
        return None
    try:
        check(payload)
    except fastjsonschema.JsonSchemaValueException as exc:
        attr = _RULE_CODES.get(exc.rule or "", "format")
        return getattr(codes, attr), exc.message
    return None
