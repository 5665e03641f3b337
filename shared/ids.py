"""Identifiers: what a charger or partner id may look like, and new ids."""

from __future__ import annotations

import re
import secrets

# OCPP 2.0.1 allows identities up to 48 characters; we also keep them safe inside URLs,
# Redis keys and log lines, so no '/', spaces, braces or control characters.
CHARGER_ID_RE = re.compile(r"^[A-Za-z0-9._:*\-]{1,48}$")
PARTNER_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,47}$")
# An RFID idTag (OCPP 1.6: up to 20 characters) or 2.0.1 idToken (up to 36): the charger id's
# characters, so that it is safe in URLs and Redis keys. Matched case-insensitively, as OCPP says.
TOKEN_ID_RE = re.compile(r"^[A-Za-z0-9._:*\-]{1,36}$")


def valid_charger_id(value: str) -> bool:
    return CHARGER_ID_RE.fullmatch(value) is not None


def valid_token_id(value: str) -> bool:
    return TOKEN_ID_RE.fullmatch(value) is not None


def token_uid(token_id: str) -> str:
    """A token's canonical id: OCPP idTags and idTokens are case-insensitive."""
    return token_id.upper()


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"
