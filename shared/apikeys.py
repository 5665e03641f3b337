"""Partner API keys: `evcs_` + 43 base62 characters of 32 random bytes + a 6-character checksum.

The prefix lets secret scanners recognise a leaked key; the checksum (CRC32 of the body)
refuses a mistyped key without a lookup. Only the SHA-256 of the whole key is stored.
"""

from __future__ import annotations

import hashlib
import secrets
import zlib

PREFIX = "evcs_"
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BODY_LEN = 43  # 62**43 > 2**256
_CHECK_LEN = 6  # 62**6 > 2**32
KEY_LEN = len(PREFIX) + _BODY_LEN + _CHECK_LEN
DISPLAY_PREFIX_LEN = len(PREFIX) + 8  # what lists show and logs may name


def _base62(n: int, width: int) -> str:
    out = []
    for _ in range(width):
        n, r = divmod(n, 62)
        out.append(_ALPHABET[r])
    return "".join(reversed(out))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), _CHECK_LEN)


def generate() -> str:
    body = _base62(secrets.randbits(256), _BODY_LEN)
    return PREFIX + body + _checksum(body)


def well_formed(key: str) -> bool:
    """True if the key has our shape and its checksum matches."""
    if len(key) != KEY_LEN or not key.startswith(PREFIX):
        return False
    body, check = key[len(PREFIX) : -_CHECK_LEN], key[-_CHECK_LEN:]
    if any(c not in _ALPHABET for c in body):
        return False
    return secrets.compare_digest(_checksum(body), check)


def digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def display_prefix(key: str) -> str:
    return key[:DISPLAY_PREFIX_LEN]
