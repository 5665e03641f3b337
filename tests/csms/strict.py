"""A strict, independent check of every frame the csms sends: the official schemas from the
`ocpp` package through `jsonschema` (not the csms's own compiled validators), date-times
checked as RFC 3339, ids and error codes as OCPP-J defines them."""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
from jsonschema.protocols import Validator

from shared.framing import ERROR_CODES

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_FORMATS = jsonschema.FormatChecker()


@_FORMATS.checks("date-time")
def _date_time(value: object) -> bool:
    return not isinstance(value, str) or _RFC3339.match(value) is not None


_FOLDER = {"ocpp1.6": "v16", "ocpp2.0.1": "v201"}


def schema_name(protocol: str, action: str, response: bool) -> str:
    if response:
        return f"{action}Response.json"
    return f"{action}.json" if protocol == "ocpp1.6" else f"{action}Request.json"


@cache
def validator(protocol: str, action: str, response: bool) -> Validator:
    path = resources.files("ocpp") / _FOLDER[protocol] / "schemas"
    schema = json.loads((path / schema_name(protocol, action, response)).read_text("utf-8-sig"))
    cls = jsonschema.validators.validator_for(schema)
    v: Validator = cls(schema, format_checker=_FORMATS)
    return v


def check_payload(protocol: str, action: str, payload: Any, response: bool) -> None:
    validator(protocol, action, response).validate(payload)


def check_message_id(message_id: Any) -> None:
    assert isinstance(message_id, str) and 0 < len(message_id) <= 36, message_id


def check_call_error(protocol: str, frame: list[Any]) -> None:
    """[4, id, errorCode, errorDescription, errorDetails] with a code the version defines."""
    assert len(frame) == 5, frame
    check_message_id(frame[1])
    assert frame[2] in ERROR_CODES[protocol], frame
    assert isinstance(frame[3], str) and len(frame[3]) <= 255, frame
    assert isinstance(frame[4], dict), frame


def check_reply(protocol: str, action: str | None, frame: list[Any]) -> None:
    """A CALLRESULT valid for `action` (None: action unknown, structure only) or a CALLERROR."""
    assert isinstance(frame, list) and frame, frame
    if frame[0] == 4:
        check_call_error(protocol, frame)
        return
    assert frame[0] == 3 and len(frame) == 3, frame
    check_message_id(frame[1])
    assert isinstance(frame[2], dict), frame
    if action is not None:
        check_payload(protocol, action, frame[2], response=True)


def check_call(protocol: str, frame: list[Any]) -> None:
    """A CALL from the csms: [2, id, action, payload] valid against the request schema."""
    assert isinstance(frame, list) and len(frame) == 4 and frame[0] == 2, frame
    check_message_id(frame[1])
    check_payload(protocol, frame[2], frame[3], response=False)
