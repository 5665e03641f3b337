"""OCPP-J RPC framing, both sides' (the central system and the simulated chargers): parse
incoming frames naming the CALLERROR the spec gives for what is wrong, build outgoing ones.
No I/O here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

CALL = 2
CALLRESULT = 3
CALLERROR = 4
MAX_ID_LEN = 36
UNREADABLE_ID = "-1"

Payload = dict[str, Any]

OCPP16 = "ocpp1.6"
OCPP201 = "ocpp2.0.1"
SUBPROTOCOLS = (OCPP16, OCPP201)


@dataclass(slots=True)
class Call:
    id: str
    action: str
    payload: dict[str, Any]


@dataclass(slots=True)
class CallResult:
    id: str
    payload: dict[str, Any]


@dataclass(slots=True)
class CallError:
    id: str
    code: str
    description: str
    details: dict[str, Any]


Frame = Call | CallResult | CallError


class FrameError(Exception):
    """A broken frame. A CALL (or what may be one) is answered with a CALLERROR; a broken
    CALLRESULT or CALLERROR is never answered, as OCPP-J has no reply to a reply."""

    def __init__(
        self, code: str, description: str, message_id: str | None, kind: int | None = None
    ) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.message_id = message_id
        self.kind = kind

    @property
    def answerable(self) -> bool:
        return self.message_id is not None and self.kind not in (CALLRESULT, CALLERROR)


class Codes:
    """CALLERROR codes by protocol; 1.6 keeps the spec's own spellings."""

    def __init__(self, protocol: str) -> None:
        v16 = protocol == OCPP16
        self.format = "FormationViolation" if v16 else "FormatViolation"
        self.occurrence = "OccurenceConstraintViolation" if v16 else "OccurrenceConstraintViolation"
        self.framework = "FormationViolation" if v16 else "RpcFrameworkError"
        self.message_type = "ProtocolError" if v16 else "MessageTypeNotSupported"
        self.type = "TypeConstraintViolation"
        self.property = "PropertyConstraintViolation"
        self.not_implemented = "NotImplemented"
        self.not_supported = "NotSupported"
        self.internal = "InternalError"
        self.security = "SecurityError"
        self.protocol = "ProtocolError"
        self.generic = "GenericError"


CODES = {p: Codes(p) for p in SUBPROTOCOLS}

# Every errorCode each version defines: a CALLERROR may carry no other.
ERROR_CODES = {
    OCPP16: frozenset(
        {
            "NotImplemented",
            "NotSupported",
            "InternalError",
            "ProtocolError",
            "SecurityError",
            "FormationViolation",
            "PropertyConstraintViolation",
            "OccurenceConstraintViolation",
            "TypeConstraintViolation",
            "GenericError",
        }
    ),
    OCPP201: frozenset(
        {
            "FormatViolation",
            "GenericError",
            "InternalError",
            "MessageTypeNotSupported",
            "NotImplemented",
            "NotSupported",
            "OccurrenceConstraintViolation",
            "PropertyConstraintViolation",
            "ProtocolError",
            "RpcFrameworkError",
            "SecurityError",
            "TypeConstraintViolation",
        }
    ),
}


def _read_id(frame: list[Any]) -> str | None:
    if len(frame) > 1 and isinstance(frame[1], str) and 0 < len(frame[1]) <= MAX_ID_LEN:
        return frame[1]
    return None


def parse(data: str | bytes, codes: Codes) -> Frame:
    """Parse one text frame; raise FrameError with the code OCPP-J names for what is wrong."""
    try:
        frame = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise FrameError(codes.framework, "frame is not valid JSON", UNREADABLE_ID) from None
    if not isinstance(frame, list) or not frame:
        raise FrameError(codes.framework, "frame is not a JSON array", UNREADABLE_ID)
    message_id = _read_id(frame)
    kind = frame[0] if type(frame[0]) is int else None  # not 3.0, not true
    if kind in (CALLRESULT, CALLERROR) and message_id is None:
        raise FrameError(
            codes.framework, "message id missing, not a string or too long", None, kind
        )
    if message_id is None:
        raise FrameError(
            codes.framework, "message id missing, not a string or too long", UNREADABLE_ID
        )
    if kind == CALL:
        if len(frame) != 4 or not isinstance(frame[2], str) or not isinstance(frame[3], dict):
            raise FrameError(
                codes.framework, "CALL must be [2, id, action, {payload}]", message_id, CALL
            )
        return Call(message_id, frame[2], frame[3])
    if kind == CALLRESULT:
        if len(frame) != 3 or not isinstance(frame[2], dict):
            raise FrameError(
                codes.framework, "CALLRESULT must be [3, id, {payload}]", message_id, CALLRESULT
            )
        return CallResult(message_id, frame[2])
    if kind == CALLERROR:
        if len(frame) < 4 or not isinstance(frame[2], str):
            raise FrameError(
                codes.framework,
                "CALLERROR must be [4, id, code, description, {}]",
                message_id,
                CALLERROR,
            )
        details = frame[4] if len(frame) > 4 and isinstance(frame[4], dict) else {}
        # OCPP's description is text; str() of anything else could be a deep structure's
        # RecursionError
        description = frame[3] if isinstance(frame[3], str) else ""
        return CallError(message_id, frame[2], description, details)
    raise FrameError(codes.message_type, f"message type {kind!r} is not supported", message_id)


def call(message_id: str, action: str, payload: dict[str, Any]) -> str:
    return orjson.dumps([CALL, message_id, action, payload]).decode()


def call_result(message_id: str, payload: dict[str, Any]) -> str:
    return orjson.dumps([CALLRESULT, message_id, payload]).decode()


def call_error(
    message_id: str, code: str, description: str, details: dict[str, Any] | None = None
) -> str:
    return orjson.dumps([CALLERROR, message_id, code, description[:255], details or {}]).decode()
