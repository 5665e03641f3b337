"""Registry changes announced on Redis: each gateway drops what it cached about them at once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import orjson
import redis.asyncio as redis

from shared.redis_keys import Keys
from shared.registry import changes_channel

log = logging.getLogger(__name__)

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
    """Subscribes to the registry's change channel and tells every listener what changed."""

    def __init__(self, r: redis.Redis, keys: Keys, listeners: list[Listener]) -> None:
        self._redis = r
        self._channel = changes_channel(keys)
        self._listeners = listeners
        self._task: asyncio.Task[None] | None = None

    def _tell(self, partner: str | None, charger: str | None) -> None:
        for listener in self._listeners:
            listener(partner, charger)

    async def start(self) -> None:
        pubsub = self._redis.pubsub()
        await self._subscribe(pubsub)
        self._task = asyncio.get_running_loop().create_task(self._listen(pubsub))

    async def _subscribe(self, pubsub: redis.client.PubSub) -> None:
        await pubsub.subscribe(self._channel)
        while True:
            message = await pubsub.get_message(timeout=5.0)
            if message is None:
                raise RuntimeError("Redis did not confirm the registry channel subscription")
            if message["type"] == "subscribe":
                return

    async def _listen(self, pubsub: redis.client.PubSub) -> None:
        try:
            while True:
                try:
                    async for message in pubsub.listen():
                        if message["type"] == "message":
                            self._tell(*parse_change(message["data"]))
                        elif message["type"] == "subscribe":
                            # resubscribed after a lost connection: what was announced in the
                            # gap is unknown, so forget everything
                            self._tell(None, None)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.warning("registry channel connection lost; resubscribing", exc_info=True)
                    self._tell(None, None)
                    await asyncio.sleep(0.5)
        finally:
            await pubsub.aclose()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
