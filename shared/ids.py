"""Identifiers: what a charger or partner id may look like, and new ids."""

from __future__ import annotations

import re
import secrets

# OCPP 2.0.1 allows identities up to 48 characters; we also keep them safe inside URLs,
# Redis keys and log lines, so no '/', spaces, braces or control characters.
CHARGER_ID_RE = re.compile(r"^[A-Za-z0-9._:*\-]{1,48}$")
PARTNER_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,47}$")


def valid_charger_id(value: str) -> bool:
    return CHARGER_ID_RE.fullmatch(value) is not None


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"
