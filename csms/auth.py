"""Handshake checks: the path, the offered subprotocols and HTTP Basic credentials. Pure."""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from urllib.parse import unquote, urlsplit

from shared.framing import SUBPROTOCOLS
from shared.ids import valid_charger_id
from shared.passwords import hash_password, verify_password

_PATH = re.compile(r"^/ocpp/([^/]+)/?$")


def charger_id_from_path(path: str) -> str | None:
    match = _PATH.match(urlsplit(path).path)
    if match is None:
        return None
    charger_id = unquote(match.group(1))
    return charger_id if valid_charger_id(charger_id) else None


def offered_subprotocol(header_values: list[str]) -> str | None:
    """The first supported subprotocol in the client's order of preference."""
    for value in header_values:
        for offered in value.split(","):
            name = offered.strip()
            if name in SUBPROTOCOLS:
                return name
    return None


def basic_credentials(header: str | None) -> tuple[bytes, bytes] | None:
    """(username, password) as raw bytes: a 1.6 AuthorizationKey need not be UTF-8."""
    if not header or not header[:6].lower() == "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    username, sep, password = decoded.partition(b":")
    if not sep:
        return None
    return username, password


# Checked against when a charger has no password, so that an unknown charger takes as long
# to refuse as a wrong password: timing does not reveal which chargers exist.
_NO_PASSWORD = hash_password(secrets.token_bytes(20))


def password_ok(charger_id: str, header: str | None, stored_hash: str | None) -> bool:
    creds = basic_credentials(header)
    if creds is None:
        return False
    username, password = creds
    matches = verify_password(password, stored_hash or _NO_PASSWORD)
    return bool(stored_hash) and matches and username == charger_id.encode()
