"""Following one pub/sub channel: the one listen loop of csms nodes and gateways.

On a Redis Cluster the channel is a sharded channel (SSUBSCRIBE) on the primary that holds
its slot; on a single server a plain one. A lost connection, a failover or a slot that moved
(the server then ends the subscription itself) leads to subscribing again wherever the
channel lives now; messages published in the gap are lost, which `on_gap` is told about.
Publishing is `r.post(channel, message)` (shared.redis_client).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from shared.process import cancel

log = logging.getLogger(__name__)

OnMessage = Callable[[str | bytes], None]
CONFIRM_TIMEOUT = 5.0
RETRY_DELAY = 0.5


class Subscription:
    """Subscribes to `channel` and hands every message's data to `on_message`."""

    def __init__(
        self,
        r: Any,
        channel: str,
        on_message: OnMessage,
        on_gap: Callable[[], None] | None = None,
        name: str = "channel",
    ) -> None:
        self._redis = r
        self.channel = channel
        self._on_message = on_message
        self._on_gap = on_gap
        self._name = name
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Return once Redis confirmed the subscription: nothing published after is missed."""
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._task = asyncio.get_running_loop().create_task(self._run(ready))
        try:
            await ready
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        await cancel(self._task)
        self._task = None

    async def _run(self, ready: asyncio.Future[None]) -> None:
        first = True
        while True:
            pubsub = None
            try:
                pubsub = self._redis.node_client(self.channel).pubsub()
                await self._subscribe(pubsub)
                if first:
                    ready.set_result(None)
                    first = False
                elif self._on_gap is not None:
                    self._on_gap()
                await self._listen(pubsub)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if first and not ready.done():
                    ready.set_exception(exc)
                    return
                log.warning(
                    "pub/sub connection lost; subscribing again",
                    extra={"channel": self._name, "error": repr(exc)},
                )
                if pubsub is not None:  # at once: redis-py may have subscribed it again
                    await _close(pubsub)
                    pubsub = None
                if self._on_gap is not None:
                    self._on_gap()
                await asyncio.sleep(RETRY_DELAY)
                await self._refresh()
            finally:
                if pubsub is not None:
                    await _close(pubsub)

    async def _subscribe(self, pubsub: Any) -> None:
        sharded = self._redis.sharded
        if sharded:
            await pubsub.ssubscribe(self.channel)
        else:
            await pubsub.subscribe(self.channel)
        confirm = "ssubscribe" if sharded else "subscribe"
        async with asyncio.timeout(CONFIRM_TIMEOUT):
            while True:
                message = await pubsub.get_message(timeout=CONFIRM_TIMEOUT)
                if message is not None and message["type"] == confirm:
                    return

    async def _listen(self, pubsub: Any) -> None:
        """Until the server ends the subscription (its slot moved) or the connection drops."""
        while True:
            message = await pubsub.get_message(timeout=None)
            if message is None:
                continue
            kind = message["type"]
            if kind in ("message", "smessage"):
                try:
                    self._on_message(message["data"])
                except Exception:
                    log.exception("pub/sub message handler failed", extra={"channel": self._name})
            elif kind in ("sunsubscribe", "unsubscribe"):
                raise ConnectionError("the server ended the subscription (its slot moved)")

    async def _refresh(self) -> None:
        try:
            await self._redis.refresh_topology()
        except Exception as exc:  # the next attempt tries again
            log.warning("could not read the cluster's slot map", extra={"error": repr(exc)})


async def _close(pubsub: Any) -> None:
    try:
        await pubsub.aclose()
    except Exception:  # its connection is gone already
        pass
