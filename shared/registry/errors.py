"""What an admin operation raises when it cannot be done; callers map these to 400/404/409."""

from __future__ import annotations


class RegistryError(Exception):
    """An admin operation that cannot be done; the message says why."""


class NotFound(RegistryError):
    pass


class Conflict(RegistryError):
    pass
