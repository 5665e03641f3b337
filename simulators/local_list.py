"""The local authorization list a central system keeps on a charger with SendLocalList: its
entries and its version, and what the charger answers an update. No I/O here."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Generic, TypeVar

from shared.framing import Payload
from simulators.clock import parse_iso

K = TypeVar("K", bound=Hashable)

FULL = "Full"
DIFFERENTIAL = "Differential"


class LocalAuthList(Generic[K]):
    """Identifiers (an idTag in 1.6, an idToken and its type in 2.0.1) and what the central
    system said about each (idTagInfo / idTokenInfo)."""

    def __init__(self, max_entries: int, max_per_message: int) -> None:
        self.max_entries = max_entries
        self.max_per_message = max_per_message
        self.version = 0  # 0 until the central system sends a list
        self.entries: dict[K, Payload] = {}

    def update(
        self, update_type: str, version: int, changes: Sequence[tuple[K, Payload | None]]
    ) -> str:
        """Apply a SendLocalList: Accepted, VersionMismatch or Failed (then nothing changed).

        A change without info removes the identifier (Differential only: a Full list gives the
        info of every identifier it holds).
        """
        if len(changes) > self.max_per_message:
            return "Failed"
        if update_type == FULL:
            if any(info is None for _, info in changes):
                return "Failed"
            entries: dict[K, Payload] = {}
        else:
            # A differential update applies to the list of an older version only.
            if version <= self.version:
                return "VersionMismatch"
            entries = dict(self.entries)
        for key, info in changes:
            if info is None:
                entries.pop(key, None)
            else:
                entries[key] = info
        if len(entries) > self.max_entries:
            return "Failed"
        self.entries = entries
        self.version = version
        return "Accepted"

    def status(self, key: K, now: float, expiry_field: str) -> str | None:
        """What the list says about an identifier (Expired once its expiry date has passed);
        None if it is not on the list."""
        info = self.entries.get(key)
        if info is None:
            return None
        expiry = info.get(expiry_field)
        if isinstance(expiry, str) and parse_iso(expiry) <= now:
            return "Expired"
        return str(info["status"])


def locally_authorized(
    status: str | None, online: bool, pre_authorize: bool, offline: bool
) -> bool:
    """Whether a charger may take the local list's word without asking the central system:
    online only for an Accepted identifier and LocalPreAuthorize; offline with
    LocalAuthorizeOffline, for whatever the list says."""
    if status is None:
        return False
    if online:
        return pre_authorize and status == "Accepted"
    return offline
