"""Charge point passwords, stored as salted hashes.

OCPP security profile passwords are machine-generated secrets of 16-40 characters (1.6:
16-20 raw bytes), not human passwords, so a salted SHA-256 resists offline guessing as well as
a slow KDF would, and a reconnection storm of thousands of chargers costs microseconds each.
"""

from __future__ import annotations

import hashlib
import secrets

_SCHEME = "sha256"


def hash_password(password: bytes | str) -> str:
    raw = password.encode() if isinstance(password, str) else password
    salt = secrets.token_bytes(16)
    return f"{_SCHEME}${salt.hex()}${hashlib.sha256(salt + raw).hexdigest()}"


def verify_password(password: bytes | str, stored: str) -> bool:
    raw = password.encode() if isinstance(password, str) else password
    try:
        scheme, salt_hex, digest_hex = stored.split("$")
        salt = bytes.fromhex(salt_hex)
    except ValueError:
        return False
    if scheme != _SCHEME:
        return False
    return secrets.compare_digest(hashlib.sha256(salt + raw).hexdigest(), digest_hex)


def generate_password() -> str:
    """A password fit for a charger: 20 URL-safe characters (about 120 bits)."""
    return secrets.token_urlsafe(15)
