"""The live feed behind GET /events: stream entries -> partner events, for each partner's own
chargers only (and behind GET /admin/events, for operators: every charger), resumable from any
entry still in the stream.

One reader per gateway follows the stream(s) while anyone listens and hands each event to the
listening partners it belongs to; a listener that connects with a Last-Event-ID first reads
what it missed straight from the stream, then continues from the reader, dropping what it has
already sent. A listener too slow for the reader falls back to reading the stream itself, so
nothing is lost either way. Ownership comes from each charger's Redis hash through a cache
that registry announcements invalidate: never a database query per event.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Collection, Iterable
from dataclasses import dataclass, field

import redis.asyncio as redis

from gateway.feed_events import (
    EntryId,
    FeedEvent,
    format_entry_id,
    parse_entry_id,
    to_feed_event,
)
from shared.process import cancel, spawn
from shared.redis_client import BLOCK_MS
from shared.redis_keys import F, Keys

log = logging.getLogger(__name__)

QUEUE_LIMIT = 2000
READ_COUNT = 1000


# ownership --------------------------------------------------------------------------------


# the owning partner ("" for none) and since when it owns the charger, epoch ms
Owner = tuple[str, int]
_NOBODY: Owner = ("", 0)


class OwnerCache:
    """charger id -> its Owner, from the charger's hash, for a short while."""

    def __init__(self, r: redis.Redis, keys: Keys, ttl: float = 60.0, size: int = 200_000):
        self._redis = r
        self._keys = keys
        self._ttl = ttl
        self._size = size
        self._owners: dict[str, tuple[float, Owner]] = {}
        # Counts invalidations. A read that one overtook (Redis answered it before the new
        # owner was written, the announcement came first) is not kept: it would serve the
        # former owner for a whole ttl.
        self._generation = 0

    def invalidate(self, charger_id: str | None) -> None:
        self._generation += 1
        if charger_id is None:
            self._owners.clear()
        else:
            self._owners.pop(charger_id, None)

    async def owners(self, charger_ids: Iterable[str]) -> dict[str, Owner]:
        now = time.monotonic()
        found: dict[str, Owner] = {}
        missing: list[str] = []
        for cp in set(charger_ids):
            cached = self._owners.get(cp)
            if cached is not None and cached[0] > now:
                found[cp] = cached[1]
            else:
                missing.append(cp)
        if missing:
            pipe = self._redis.pipeline(transaction=False)
            for cp in missing:
                pipe.hmget(self._keys.charger(cp), [F.OWNER, F.REGISTERED, F.OWNER_SINCE])
            generation = self._generation
            read = await pipe.execute()
            # still right for the events in hand, which were read from the stream before it
            keep = generation == self._generation
            if keep and len(self._owners) + len(missing) > self._size:
                self._owners.clear()
            for cp, (owner, registered, since) in zip(missing, read, strict=True):
                # a hash projected before OWNER_SINCE was: owned since ever, as it was read then
                who = (owner, int(since or 0)) if owner and registered == "1" else _NOBODY
                found[cp] = who
                if keep:
                    self._owners[cp] = (now + self._ttl, who)
        return found


def owner_of(event: FeedEvent, of: dict[str, Owner]) -> str:
    """The partner an event belongs to ("" for none): a charger's events from before it
    became its owner's are its former owner's, which the feed no longer knows."""
    if event.kind == "command":
        return event.partner_id or ""
    owner, since = of.get(event.charger_id, _NOBODY)
    return owner if event.entry[0] >= since else ""


async def _for_listener(
    events: list[FeedEvent], listener: Listener, owners: OwnerCache
) -> list[FeedEvent]:
    """The events the listener takes: for a partner its chargers' changes and its own
    commands; for an operator everything; either way only the kinds (and chargers) it asked for."""
    events = [e for e in events if listener.asked_for(e)]
    if listener.partner_id is None:
        return events
    of = await owners.owners(e.charger_id for e in events if e.partner_id is None)
    return [e for e in events if owner_of(e, of) == listener.partner_id]


# the feed ---------------------------------------------------------------------------------


async def _refresh(r: redis.Redis) -> None:
    """Read the slot map again: the stream may live on another primary now."""
    try:
        await r.refresh_topology()
    except Exception:
        log.warning("cannot read the slot map", exc_info=True)


@dataclass(eq=False)
class Listener:
    partner_id: str | None  # None: an operator's, for every charger and every command
    kinds: frozenset[str]
    chargers: frozenset[str] | None = None  # only these chargers' events
    pending: deque[FeedEvent] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    overflowed: bool = False
    closed: bool = False

    def asked_for(self, event: FeedEvent) -> bool:
        return event.kind in self.kinds and (
            self.chargers is None or event.charger_id in self.chargers
        )

    def takes(self, event: FeedEvent, owner: str | None) -> bool:
        """Whether the event goes to this listener; `owner` is the partner it belongs to."""
        return self.asked_for(event) and (self.partner_id is None or self.partner_id == owner)

    def offer(self, event: FeedEvent) -> None:
        if self.overflowed:
            return
        if len(self.pending) >= QUEUE_LIMIT:
            self.overflowed = True
            self.pending.clear()
        else:
            self.pending.append(event)
        self.wake.set()

    def close(self) -> None:
        self.closed = True
        self.wake.set()


class EventFeed:
    def __init__(self, r: redis.Redis, keys: Keys) -> None:
        self._redis = r
        self.streams = keys.streams()
        self.owners = OwnerCache(r, keys)
        self._listeners: set[Listener] = set()
        self._reader: asyncio.Task[None] | None = None
        self._started: asyncio.Future[None] | None = None
        self._stopping: set[asyncio.Task[None]] = set()

    @property
    def shards(self) -> int:
        return len(self.streams)

    async def tails(self) -> list[EntryId]:
        """The last entry id of every shard now (0-0 for an empty one)."""
        pipe = self._redis.pipeline(transaction=False)
        for stream in self.streams:
            pipe.xrevrange(stream, "+", "-", count=1)
        out: list[EntryId] = []
        for reply in await pipe.execute():
            last = parse_entry_id(reply[0][0]) if reply else None
            out.append(last or (0, 0))
        return out

    async def heads(self) -> list[EntryId | None]:
        """The oldest entry id still in every shard (None for an empty one)."""
        pipe = self._redis.pipeline(transaction=False)
        for stream in self.streams:
            pipe.xrange(stream, "-", "+", count=1)
        return [parse_entry_id(r[0][0]) if r else None for r in await pipe.execute()]

    async def listen(
        self,
        partner_id: str | None,
        kinds: Collection[str],
        chargers: Collection[str] | None = None,
    ) -> Listener:
        """Register a listener (a partner's, or for partner_id None an operator's); the reader
        runs from before this returns."""
        listener = Listener(
            partner_id, frozenset(kinds), frozenset(chargers) if chargers is not None else None
        )
        self._listeners.add(listener)
        try:
            if self._reader is None or self._reader.done():
                # (a reader that could not even read the tails has ended: start anew)
                loop = asyncio.get_running_loop()
                self._started = loop.create_future()
                self._reader = loop.create_task(self._read(self._started))
            assert self._started is not None
            await asyncio.shield(self._started)
        except BaseException:
            self.leave(listener)
            raise
        return listener

    def leave(self, listener: Listener) -> None:
        self._listeners.discard(listener)
        if not self._listeners and self._reader is not None:
            spawn(self._stopping, cancel(self._reader))
            self._reader = None
            self._started = None

    def close_partner(self, partner_id: str | None) -> None:
        """End the partner's streams (all streams, operators' too, for None): its access
        changed."""
        for listener in list(self._listeners):
            if partner_id is None or listener.partner_id == partner_id:
                listener.close()

    async def stop(self) -> None:
        for listener in list(self._listeners):
            listener.close()
        await cancel(self._reader, *self._stopping)
        self._reader = None

    async def _read(self, started: asyncio.Future[None]) -> None:
        try:
            positions = await self.tails()
        except Exception as exc:
            started.set_exception(exc)
            return
        started.set_result(None)
        # one reader per shard: on a cluster each shard lives on a primary of its own
        await asyncio.gather(*(self._follow(i, p) for i, p in enumerate(positions)))

    async def _follow(self, shard: int, position: EntryId) -> None:
        stream = self.streams[shard]
        failing = False
        while True:
            try:
                # a plain client on the stream's primary: a cluster client would ask a server
                # where XREAD's keys are before every read
                reply = await self._redis.node_client(stream).xread(
                    {stream: format_entry_id(position)}, count=READ_COUNT, block=BLOCK_MS
                )
                failing = False
            except asyncio.CancelledError:
                raise
            except Exception:
                if not failing:
                    log.warning("event feed cannot read the stream; retrying", exc_info=True)
                failing = True
                await asyncio.sleep(1)
                await _refresh(self._redis)
                continue
            events: list[FeedEvent] = []
            for _, entries in reply or []:
                for entry_id, fields in entries:
                    entry = parse_entry_id(entry_id)
                    if entry is not None:
                        position = entry
                    event = to_feed_event(shard, entry_id, fields)
                    if event is not None:
                        events.append(event)
            if events:
                await self._hand_out(events)

    async def _hand_out(self, events: list[FeedEvent]) -> None:
        partners = {listener.partner_id for listener in self._listeners}
        operators = None in partners  # they take every event: owners do not matter to them
        of: dict[str, Owner] = {}
        try:
            if partners - {None}:
                of = await self.owners.owners(e.charger_id for e in events if e.partner_id is None)
        except Exception:
            # the listeners catch up from the stream themselves once Redis answers again
            log.warning("event feed cannot look up owners", exc_info=True)
            for listener in self._listeners:
                listener.overflowed = True
                listener.wake.set()
            return
        for event in events:
            owner = owner_of(event, of)
            if owner not in partners and not operators:
                continue
            for listener in self._listeners:
                if listener.takes(event, owner):
                    listener.offer(event)

    async def replay(self, listener: Listener, position: list[EntryId]) -> AsyncIterator[FeedEvent]:
        """The listener's events after `position`, straight from the stream, up to now."""
        for shard, stream in enumerate(self.streams):
            start = position[shard]
            while True:
                entries = await self._redis.xrange(
                    stream, f"({format_entry_id(start)}", "+", count=READ_COUNT
                )
                if not entries:
                    break
                batch = [
                    e
                    for entry_id, fields in entries
                    if (e := to_feed_event(shard, entry_id, fields)) is not None
                ]
                for event in await _for_listener(batch, listener, self.owners):
                    yield event
                last = parse_entry_id(entries[-1][0])
                if last is None or len(entries) < READ_COUNT:
                    break
                start = last
