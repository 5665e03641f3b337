"""Registry changes announced on Redis: each gateway drops what it cached about them at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from shared.pubsub import Subscription
from shared.redis_keys import Keys

# Called with (partner id, charger id), either may be None; (None, None) means "forget everything".
Listener = Callable[[str | None, str | None], None]


def parse_change(data: str | bytes) -> tuple[str | None, str | None]:
    """(partner, charger) from an announcement; anything unreadable means "everything"."""
    try:
        message = orjson.loads(data)
        partner, charger = message.get("partner"), message.get("charger")
    except (orjson.JSONDecodeError, AttributeError):
        return None, None
    if not isinstance(partner, str | None) or not isinstance(charger, str | None):
        return None, None
    return partner, charger


class RegistryWatch:
    """Follows the registry's change channel and tells the listener what changed; after a gap
    in the subscription, what was announced meanwhile is unknown, so it forgets everything."""

    def __init__(self, r: Any, keys: Keys, listener: Listener) -> None:
        self._subscription = Subscription(
            r,
            keys.registry_changes,
            lambda data: listener(*parse_change(data)),
            on_gap=lambda: listener(None, None),
            name="registry changes",
        )

    async def start(self) -> None:
        await self._subscription.start()

    async def stop(self) -> None:
        await self._subscription.stop()
