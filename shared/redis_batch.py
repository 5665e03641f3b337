"""Single Redis commands from many concurrent callers, sent together.

Each caller awaits its own reply; what accumulated while the previous batch was out goes as
one pipeline per primary. A reconnection storm is thousands of handshakes, each reading its
charger's hash and running the attach script: one round trip per batch instead of one per
charger, and no queue of callers waiting for a pooled connection. A redirected command
(MOVED, ASK, TRYAGAIN while a slot moves) is sent again on its own through the cluster
client, which follows redirects itself; never twice, as a command may have run though its
reply was lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from itertools import chain
from typing import Any, Protocol

from redis.exceptions import AskError, NoScriptError, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError

from shared.process import spawn
from shared.redis_client import UNAVAILABLE

log = logging.getLogger(__name__)


class Pipelined(Protocol):
    """A connection that sends commands together and answers each in its place, an error as
    its exception (shared.redis_lane.Lane)."""

    async def execute(self, commands: Sequence[tuple[Any, ...]]) -> list[Any]: ...


class LanesOf(Protocol):
    """A lane to the server a plain client speaks to, or None (shared.redis_lane.Lanes)."""

    def of(self, client: Any) -> Pipelined | None: ...

    async def keep(self, clients: Sequence[Any]) -> None: ...


class _Call:
    __slots__ = ("args", "fut", "key")

    def __init__(self, key: str, args: tuple[Any, ...], fut: asyncio.Future[Any]) -> None:
        self.key = key
        self.args = args
        self.fut = fut


class ScriptLoader:
    """SCRIPT LOAD on a key's primary, once for every caller that found the script missing.

    A script's first calls after a restart or a Redis failover all fail together (every
    charger detaching at shutdown, a burst of partner requests); each loading it on its own went
    through the connection pool one by one and starved it for tens of seconds."""

    def __init__(self, r: Any) -> None:
        self._redis = r
        self._loading: dict[tuple[str, int], asyncio.Future[Any]] = {}

    async def load(self, script: Any, key: str) -> None:
        client = self._redis.node_client(key)
        which = (script.sha, id(client))
        loading = self._loading.get(which)
        if loading is None:
            loading = asyncio.ensure_future(client.script_load(script.script))
            self._loading[which] = loading
            loading.add_done_callback(lambda _: self._loading.pop(which, None))
        await asyncio.shield(loading)


class Coalescer:
    """Batches independent single-key commands into pipelined round trips."""

    def __init__(
        self,
        r: Any,
        max_inflight: int = 4,
        lane: Pipelined | None = None,
        lanes: LanesOf | None = None,
    ) -> None:
        self._redis = r
        if lane is None and lanes is not None and not r.sharded:
            lane = lanes.of(r)
        self._lane = lane  # a single server's lane: no pooled connection, hiredis both ways
        self._lanes = lanes  # a cluster's: one to each primary, where a lane can serve it
        self._pending: list[_Call] = []
        self._inflight = 0
        self._max_inflight = max_inflight
        self._tasks: set[asyncio.Task[None]] = set()
        self._loader = ScriptLoader(r)
        self.batches = 0

    async def execute(self, key: str, *args: Any) -> Any:
        """Run one command on the primary that serves `key`; its reply, or its error raised."""
        return await self.submit(key, *args)

    def submit(self, key: str, *args: Any) -> asyncio.Future[Any]:
        """Queue one command for the primary that serves `key`: a future of its reply (or
        error), without a task per command for callers that ask several at once."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self._pending.append(_Call(key, args, fut))
        if self._inflight < self._max_inflight:
            self._inflight += 1
            spawn(self._tasks, self._flush())
        return fut

    async def script(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        """A registered script, by its hash; loaded once when a server lacks it."""
        try:
            return await self.execute(keys[0], "EVALSHA", script.sha, len(keys), *keys, *args)
        except NoScriptError:
            await self._loader.load(script, keys[0])
        try:
            return await self.execute(keys[0], "EVALSHA", script.sha, len(keys), *keys, *args)
        except NoScriptError:  # flushed again meanwhile, or the slot moved: the slow way
            return await self._redis.once(keys[0], "EVAL", script.script, len(keys), *keys, *args)

    async def post(self, channel: str, message: str | bytes) -> int:
        """Publish with the next batch (SPUBLISH on a cluster: only the channel's shard hears
        it); the number of subscribers that got it."""
        command = "SPUBLISH" if self._redis.sharded else "PUBLISH"
        return int(await self.execute(channel, command, channel, message))

    async def _flush(self) -> None:
        try:
            await asyncio.sleep(0)  # let the callers of this loop iteration join the batch
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    await self._send(batch)
                except BaseException as exc:  # cancelled (the process stops), or a bug
                    lost = RedisConnectionError(f"the batch was not sent: {exc!r}")
                    for call in batch:  # no caller is left waiting for ever
                        _settle(call, lost)
                    raise
                self.batches += 1
        finally:
            self._inflight -= 1

    async def _send(self, batch: list[_Call]) -> None:
        if self._lane is not None:
            try:
                replies = await self._lane.execute([call.args for call in batch])
            except Exception as exc:  # the server is lost: no reply is known
                replies = [exc] * len(batch)
            for call, reply in zip(batch, replies, strict=True):
                _settle(call, reply)
            return
        groups: dict[int, tuple[Any, list[_Call]]] = {}
        for call in batch:
            try:
                client = self._redis.node_client(call.key)
            except UNAVAILABLE as exc:  # a slot with no owner
                _settle(call, exc)
                continue
            groups.setdefault(id(client), (client, []))[1].append(call)
        again = await asyncio.gather(*(self._send_to(c, calls) for c, calls in groups.values()))
        for call in chain.from_iterable(again):
            try:
                _settle(call, await self._redis.once(call.key, *call.args))
            except Exception as exc:
                _settle(call, exc)

    async def _send_to(self, client: Any, calls: list[_Call]) -> list[_Call]:
        """Send one primary's calls; return those redirected elsewhere."""
        lane = self._lanes.of(client) if self._lanes is not None else None
        try:
            if lane is not None:
                results = await lane.execute([call.args for call in calls])
            else:
                pipe = client.pipeline(transaction=False)
                for call in calls:
                    pipe.execute_command(*call.args)
                results = await pipe.execute(raise_on_error=False)
        except Exception as exc:  # the node is lost: no reply is known
            for call in calls:
                _settle(call, exc)
            self.refresh_soon()
            return []
        redirected: list[_Call] = []
        for call, result in zip(calls, results, strict=True):
            if isinstance(result, (AskError, TryAgainError)):  # MOVED is an AskError
                redirected.append(call)
            else:
                _settle(call, result)
        return redirected

    def refresh_soon(self) -> None:
        """A cluster's primary stopped answering: read the slot map again, as a replica may
        have taken its slots, and close the lanes of nodes no longer primaries. Nothing else
        may do it for a process whose calls all go down lanes (a gateway's)."""
        if self._redis.sharded:
            reread_soon(self._redis, self._lanes, self._tasks)


def reread_soon(r: Any, lanes: LanesOf | None, tasks: set[asyncio.Task[Any]]) -> None:
    """reread_slot_map in the background, its task held in `tasks` until it ends."""
    spawn(tasks, reread_slot_map(r, lanes))


async def reread_slot_map(r: Any, lanes: LanesOf | None = None) -> None:
    """Read a cluster's slot map again (after a lost primary or a MOVED) and close the lanes of
    nodes no longer primaries; a failure is logged, as the next failing call asks again."""
    try:
        await r.refresh_topology()
        if lanes is not None:
            await lanes.keep(r.primary_clients())
    except Exception as exc:
        log.warning("could not read the cluster's slot map", extra={"error": repr(exc)})


def _settle(call: _Call, result: Any) -> None:
    if call.fut.done():  # its caller was cancelled
        return
    if isinstance(result, BaseException):
        call.fut.set_exception(result)
    else:
        call.fut.set_result(result)
