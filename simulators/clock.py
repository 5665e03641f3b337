"""Timestamps as OCPP writes them, and back: the simulators keep time as epoch seconds."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def iso(epoch: float) -> str:
    """An epoch time as ISO 8601 UTC with milliseconds and a 'Z' suffix."""
    whole = int(epoch // 1)
    millis = min(round((epoch - whole) * 1000), 999)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{millis:03d}Z"


def iso_now() -> str:
    """The current UTC time as ISO 8601 with milliseconds and a 'Z' suffix."""
    return iso(time.time())


def parse_iso(text: str) -> float:
    """An OCPP date-time as epoch seconds; a time without an offset is taken as UTC.

    Raises ValueError on anything else, which a handler answers with a FormatViolation.
    """
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
