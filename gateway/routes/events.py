"""GET /events: Server-Sent Events of the partner's chargers, resumable with Last-Event-ID."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiohttp import web

from gateway.api import Endpoint, Param, Reply
from gateway.errors import ApiError
from gateway.event_schemas import EventsQuery
from gateway.feed import EventFeed, Listener
from gateway.feed_events import KINDS, EntryId, FeedEvent, format_position
from gateway.feed_events import parse_position as parse_last_event_id
from gateway.routes.paths import API
from gateway.schemas import ISO_EXAMPLE
from gateway.state import FEED, PARTNER, SETTINGS, SLOTS, partner_id

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 15.0
RETRY_MS = 2000
GAP_EVENT = (
    b'event: gap\ndata: {"message": "events after Last-Event-ID may have been trimmed from'
    b' the stream; read the current state from the REST API"}\n\n'
)

LAST_EVENT_ID = Param(
    "Last-Event-ID",
    "header",
    "Resume after this event: the `id` of the last event received (EventSource clients send"
    " it on reconnection by themselves). Events stay resumable for the stream retention"
    " (default 10 minutes); older positions get a `gap` event first.",
    {"type": "string", "pattern": "^[0-9]+-[0-9]+(,[0-9]+-[0-9]+)*$"},
    "1767225600000-0",
)


def kinds_of(types: str | None) -> frozenset[str]:
    if types is None:
        return frozenset(KINDS)
    asked = set(types.split(","))
    if asked - set(KINDS):
        raise ApiError(400, f"types: each must be one of {', '.join(KINDS)}")
    return frozenset(asked)


def may_have_lost(
    position: list[EntryId], heads: list[EntryId | None], now_ms: int, retention_ms: int
) -> bool:
    """Could entries after `position` have been trimmed? Only if it is older than the
    retention and the stream no longer reaches back to it."""
    for pos, head in zip(position, heads, strict=True):
        if pos == (0, 0) or pos[0] >= now_ms - retention_ms:
            continue
        if head is None or head > pos:
            return True
    return False


def frame(event: FeedEvent, position: list[EntryId]) -> bytes:
    return (
        f"id: {format_position(position)}\nevent: {event.kind}\ndata: ".encode()
        + event.data
        + b"\n\n"
    )


# Whether a stream may go on, asked at every keep-alive (a console session signed out).
StillAllowed = Callable[[], Awaitable[bool]]


class _Stream:
    """One open event stream."""

    def __init__(
        self,
        response: web.StreamResponse,
        feed: EventFeed,
        listener: Listener,
        position: list[EntryId],
        still_allowed: StillAllowed | None,
    ) -> None:
        self.response = response
        self.feed = feed
        self.listener = listener
        self.position = position
        self.still_allowed = still_allowed

    async def send(self, event: FeedEvent) -> None:
        if event.entry <= self.position[event.shard]:
            return  # sent already (caught up from the stream, then handed out by the reader)
        self.position[event.shard] = event.entry
        await self.response.write(frame(event, self.position))

    async def catch_up(self) -> None:
        async for event in self.feed.replay(self.listener, list(self.position)):
            await self.send(event)

    async def run(self) -> None:
        listener = self.listener
        await self.catch_up()
        while not listener.closed:
            if listener.overflowed:
                listener.overflowed = False
                listener.pending.clear()
                await self.catch_up()
            while listener.pending and not listener.overflowed:
                await self.send(listener.pending.popleft())
            if listener.pending or listener.overflowed or listener.closed:
                continue
            listener.wake.clear()
            try:
                await asyncio.wait_for(listener.wake.wait(), HEARTBEAT_SECONDS)
            except TimeoutError:
                if self.still_allowed is not None and not await self.still_allowed():
                    return
                await self.response.write(b": keep-alive\n\n")


def resume_position(request: web.Request, feed: EventFeed) -> list[EntryId] | None:
    """Where the client's Last-Event-ID says to resume (None: from now on), or 400."""
    last_event_id = request.headers.get("Last-Event-ID")
    if not last_event_id:
        return None
    position = parse_last_event_id(last_event_id, feed.shards)
    if position is None:
        raise ApiError(400, "Last-Event-ID: not an event id this feed sent")
    return position


async def events(request: web.Request) -> web.StreamResponse:
    query = EVENTS.query_of(request)
    kinds = kinds_of(query.types)
    feed = request.app[FEED]
    position = resume_position(request, feed)
    pid = partner_id(request)
    slots = request.app[SLOTS]
    lease = await slots.acquire(pid)
    if lease is None:
        raise ApiError(
            429,
            f"at most {slots.per_partner} event streams may be open at once; close one first",
            # a closed stream frees its slot by its next keep-alive at the latest
            headers={"Retry-After": str(int(HEARTBEAT_SECONDS))},
        )
    expiry = None
    try:  # the slot goes back however the stream ends, even if it never opened
        listener = await feed.listen(pid, kinds)
        expiry = _closed_at_expiry(listener, request[PARTNER].expires_at)
        return await serve(request, feed, listener, position)
    finally:
        if expiry is not None:
            expiry.cancel()
        await slots.release(pid, lease)


def _closed_at_expiry(
    listener: Listener, expires_at: datetime | None
) -> asyncio.TimerHandle | None:
    """A stream ends when the key that opened it expires (or is rotated out), as any request
    with the key is refused from then on; revocation ends it through the feed."""
    if expires_at is None:
        return None
    delay = max(0.0, (expires_at - datetime.now(UTC)).total_seconds())
    return asyncio.get_running_loop().call_later(delay, listener.close)


async def serve(
    request: web.Request,
    feed: EventFeed,
    listener: Listener,
    position: list[EntryId] | None,
    still_allowed: StillAllowed | None = None,
) -> web.StreamResponse:
    """Stream the listener's events from `position` (None: from now on) until the client
    goes, the listener is closed or `still_allowed` says no; the listener leaves the feed."""
    try:
        lost = False
        if position is None:
            position = await feed.tails()  # from now on
        else:
            retention_ms = request.app[SETTINGS].stream_retention_seconds * 1000
            lost = may_have_lost(
                position, await feed.heads(), int(time.time() * 1000), retention_ms
            )
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",  # proxies must not buffer the stream
            }
        )
        await response.prepare(request)
        try:
            await response.write(f"retry: {RETRY_MS}\n\n".encode())
            if lost:
                await response.write(GAP_EVENT)
            await _Stream(response, feed, listener, position, still_allowed).run()
        except ConnectionResetError:
            pass  # the client went away
        except Exception:
            # headers are sent: end the stream; the client resumes with its Last-Event-ID
            log.warning("event stream ended by an error", exc_info=True)
        return response
    finally:
        feed.leave(listener)


EVENTS = Endpoint(
    "GET",
    f"{API}/events",
    events,
    "events",
    "Live events of the partner's chargers (Server-Sent Events)",
    "events",
    access="partner",
    description="A `text/event-stream` of the partner's chargers' changes: `status`"
    " (a connector's status changed), `connection` (connected/disconnected), `session`"
    " (a session started/stopped) and `command` (a command of the partner ended). Each"
    " event's `data` is JSON (schemas StatusEventJson, ConnectionEventJson,"
    " SessionEventJson, CommandEventJson) and its `id` is the stream position: reconnect"
    " with `Last-Event-ID` to receive everything after it. A `: keep-alive` comment comes"
    " every 15 s. The stream ends when the key is revoked or the partner suspended."
    " Counts as one request for rate limiting.",
    query=EventsQuery,
    params=(LAST_EVENT_ID,),
    replies={
        200: Reply(
            "The event stream",
            str,
            'retry: 2000\n\nid: 1767225600000-0\nevent: status\ndata: {"chargerId":'
            ' "CP-0001", "connectorId": 1, "status": "CHARGING", "previousStatus":'
            ' "BLOCKED", "ocppStatus": "Charging", "errorCode": "NoError", "timestamp":'
            f' "{ISO_EXAMPLE}", "receivedAt": "{ISO_EXAMPLE}"}}\n\n',
            media="text/event-stream",
        )
    },
    errors={
        400: "Last-Event-ID is not an id this feed sent, or `types` is invalid",
        429: "The partner already holds its most concurrent streams"
        " (`EVCS_MAX_STREAMS_PER_PARTNER`, 10), or its rate limit is spent",
    },
)
