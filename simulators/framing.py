"""OCPP-J message frames (CALL, CALLRESULT, CALLERROR): build them and parse incoming ones."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import orjson

Payload = dict[str, Any]

CALL: Final = 2
CALLRESULT: Final = 3
CALLERROR: Final = 4


class FrameError(ValueError):
    """An incoming message is not a well-formed OCPP-J frame."""

    def __init__(self, description: str, msg_id: str | None = None) -> None:
        super().__init__(description)
        # Kept so the receiver can still answer a CALL with a CALLERROR when it has an id.
        self.msg_id = msg_id


@dataclass(slots=True)
class Frame:
    """One parsed frame; `action` is set for CALLs, `error_*` for CALLERRORs."""

    kind: int
    msg_id: str
    payload: Payload = field(default_factory=dict)
    action: str | None = None
    error_code: str | None = None
    error_description: str = ""


# Frames go out as str because OCPP-J requires text WebSocket frames, and websockets sends
# bytes as binary frames.
def call(msg_id: str, action: str, payload: Payload) -> str:
    """A CALL frame `[2, id, action, payload]`."""
    return orjson.dumps([CALL, msg_id, action, payload]).decode()


def result(msg_id: str, payload: Payload) -> str:
    """A CALLRESULT frame `[3, id, payload]`."""
    return orjson.dumps([CALLRESULT, msg_id, payload]).decode()


def error(msg_id: str, code: str, description: str = "", details: Payload | None = None) -> str:
    """A CALLERROR frame `[4, id, code, description, details]`."""
    return orjson.dumps([CALLERROR, msg_id, code, description, details or {}]).decode()


def parse(data: str | bytes) -> Frame:
    """Parse one incoming message; raises FrameError if it is not a valid OCPP-J frame."""
    try:
        msg = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise FrameError(f"invalid JSON: {exc}") from None
    if not isinstance(msg, list) or len(msg) < 3 or not isinstance(msg[1], str):
        raise FrameError("not an OCPP-J frame")
    kind, msg_id = msg[0], msg[1]
    if kind == CALL and len(msg) == 4 and isinstance(msg[2], str) and isinstance(msg[3], dict):
        return Frame(CALL, msg_id, msg[3], action=msg[2])
    if kind == CALLRESULT and len(msg) == 3 and isinstance(msg[2], dict):
        return Frame(CALLRESULT, msg_id, msg[2])
    if kind == CALLERROR and len(msg) == 5 and isinstance(msg[2], str):
        details = msg[4] if isinstance(msg[4], dict) else {}
        return Frame(CALLERROR, msg_id, details, error_code=msg[2], error_description=str(msg[3]))
    raise FrameError(f"malformed frame of type {kind!r}", msg_id if kind == CALL else None)
