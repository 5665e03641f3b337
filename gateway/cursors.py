"""Opaque pagination cursors: the last row's sort key, base64url-encoded JSON."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

import orjson

from gateway.errors import ApiError
from gateway.schemas import representable


def encode(*key: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(key))).decode().rstrip("=")


def bad() -> ApiError:
    return ApiError(400, "cursor: not a cursor this API returned")


def decode(cursor: str, *arities: int) -> list[Any]:
    """The sort key a cursor holds, of one of these lengths; any cursor this API did not hand
    out is a 400."""
    try:
        key = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        key = None
    if not isinstance(key, list) or len(key) not in arities or any(_unsafe(k) for k in key):
        raise bad()
    return key


def time_of(value: object) -> datetime:
    """A time a cursor holds (ISO 8601 with its offset), or 400."""
    if not isinstance(value, str):
        raise bad()
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise bad() from None
    if ts.tzinfo is None or not representable(ts):
        raise bad()
    return ts


def time_and_id(cursor: str | None) -> tuple[datetime, str] | None:
    """Where a previous page keyed (time, id) ended; None for the first page."""
    if cursor is None:
        return None
    at, key = decode(cursor, 2)
    if not isinstance(key, str):
        raise bad()
    return time_of(at), key


def session_key(cursor: str | None) -> tuple[datetime, str, str] | None:
    """Where a previous page of sessions ended: (start, transaction id, charger id); None for
    the first page. Transaction ids are the charger's own, so only the three are one session.
    A cursor handed out before it held the charger stops before every charger's session of
    that time and id, as it did then."""
    if cursor is None:
        return None
    at, transaction_id, *charger = decode(cursor, 3, 2)
    charger_id = charger[0] if charger else ""
    if not isinstance(transaction_id, str) or not isinstance(charger_id, str):
        raise bad()
    return time_of(at), transaction_id, charger_id


def _unsafe(value: Any) -> bool:
    # only what encode() puts in: short strings without NUL (which PostgreSQL refuses), and
    # ints of the int columns they were read from
    if isinstance(value, str):
        return "\x00" in value or len(value) > 256
    if not isinstance(value, int) or isinstance(value, bool):
        return True
    return not _INT_MIN <= value <= _INT_MAX


_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
