"""GET /admin/events: the live feed of every charger for operators (the console follows the
chargers it shows), as GET /events is for a partner's own."""

from __future__ import annotations

from functools import partial

from aiohttp import web

from gateway.api import Endpoint, Reply
from gateway.event_schemas import AdminEventsQuery
from gateway.routes.events import EVENTS, LAST_EVENT_ID, kinds_of, resume_position, serve
from gateway.routes.paths import ADMIN
from gateway.state import FEED, SESSIONS, SIGNED_IN


async def admin_events(request: web.Request) -> web.StreamResponse:
    query = ADMIN_EVENTS.query_of(request)
    kinds = kinds_of(query.types)
    feed = request.app[FEED]
    position = resume_position(request, feed)
    signed_in = request.get(SIGNED_IN)
    # a stream opened with a console session ends once the session does (sign-out elsewhere)
    still_allowed = (
        partial(request.app[SESSIONS].alive, signed_in.session_id) if signed_in else None
    )
    # (no stream slots: operators are few and trusted, and each stream is one listener)
    listener = await feed.listen(None, kinds, query.chargers())
    return await serve(request, feed, listener, position, still_allowed)


ADMIN_EVENTS = Endpoint(
    "GET",
    f"{ADMIN}/events",
    admin_events,
    "adminEvents",
    "Live events of every charger (Server-Sent Events)",
    "admin: events",
    access="admin",
    description="As GET /events, for operators: `status`, `connection` and `session` events"
    " of every charger, `command` events of every command (partners' and operators'), or"
    " only those of `chargerIds`. Resumable with `Last-Event-ID`; a `: keep-alive` comment"
    " every 15 s. A stream opened with a console session ends at its next keep-alive once"
    " the session has ended.",
    query=AdminEventsQuery,
    params=(LAST_EVENT_ID,),
    replies={
        200: Reply("The event stream", str, EVENTS.replies[200].example, media="text/event-stream")
    },
    errors={
        400: "Last-Event-ID is not an id this feed sent, or `types` or `chargerIds` is invalid"
    },
)
