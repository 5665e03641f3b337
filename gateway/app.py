"""The gateway application: create it (for tests and embedding) or run it as a process."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from functools import cache
from typing import Any

import asyncpg
import orjson
from aiohttp import web

from gateway import guide
from gateway.auth import Authenticator
from gateway.auth_throttle import AuthThrottle
from gateway.commands import REPLY_MARGIN, CommandBus
from gateway.dispatch import Dispatcher
from gateway.event_schemas import EVENT_MODELS
from gateway.feed import EventFeed
from gateway.jsonio import MAX_BODY_BYTES
from gateway.local_list_sync import ListSync
from gateway.middleware import gateway_middleware, prepare_hook
from gateway.nodes import AliveNodes
from gateway.openapi import document
from gateway.ratelimit import RateLimiter
from gateway.routes import ENDPOINTS, add_routes
from gateway.routes.docs import set_document
from gateway.routes.paths import API
from gateway.runner import GatewayRunner
from gateway.sessions import Sessions
from gateway.state import (
    AUTH,
    BUS,
    CENSUS,
    DISPATCH,
    DRAINING,
    FEED,
    HOT,
    KEYS,
    LAST_ANSWER,
    LIMITER,
    LIST_SYNC,
    NODES,
    POOL,
    REDIS,
    SESSIONS,
    SETTINGS,
    SLOTS,
    THROTTLE,
)
from gateway.stream_slots import StreamSlots
from gateway.system import Census
from gateway.watch import RegistryWatch
from shared import db, ops_http, registry
from shared.process import Service
from shared.redis_client import connect
from shared.redis_keys import Keys
from shared.redis_lane import hot_path
from shared.settings import Settings

log = logging.getLogger(__name__)

CleanupCtx = Callable[[web.Application], AsyncIterator[None]]


def _storage(redis: Any, pool: asyncpg.Pool | None) -> CleanupCtx:
    """Open Redis and the pool unless given them, wire the services that use them; on the way
    out close only what we opened."""

    async def storage(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        r = (
            redis
            if redis is not None
            else await connect(settings.redis_url or "", mode=settings.redis_mode)
        )
        created: asyncpg.Pool | None = None
        try:
            if pool is None:
                created = await db.create_pool(settings.database_url or "")
            _wire(app, r, pool or created)
            yield
        finally:
            if HOT in app:
                await app[HOT].aclose()
            if LIMITER in app:  # one of its own, if it was given no path
                await app[LIMITER].aclose()
            if created is not None:
                await created.close()
            if redis is None:
                await r.aclose()

    return storage


def _wire(app: web.Application, r: Any, pool: asyncpg.Pool | None) -> None:
    settings, keys = app[SETTINGS], app[KEYS]
    assert pool is not None
    app[REDIS] = r
    app[POOL] = pool
    app[NODES] = AliveNodes(r, keys)
    app[BUS] = CommandBus(r, keys, app[NODES])
    app[HOT] = hot_path(r)
    app[LIMITER] = RateLimiter(
        r, keys, settings.rate_limit_minute, settings.rate_limit_hour, path=app[HOT]
    )
    app[THROTTLE] = AuthThrottle(r, keys, settings.auth_failures_per_minute)
    app[AUTH] = Authenticator(
        lambda digest: registry.find_key(app[POOL], digest),
        settings.key_cache_seconds,
        throttle=app[THROTTLE],
    )
    app[DISPATCH] = Dispatcher(settings, r, keys, app[BUS], pool)
    app[FEED] = EventFeed(r, keys)
    app[SLOTS] = StreamSlots(r, keys, settings.max_streams_per_partner)
    app[SESSIONS] = Sessions(r, keys, settings.console_session_seconds)
    app[CENSUS] = Census(pool, r, keys, settings.offline_grace)
    app[LIST_SYNC] = ListSync(pool, r, keys, app[DISPATCH], settings.local_list_sync_seconds)


def _forget(app: web.Application) -> Callable[[str | None, str | None], None]:
    """What a registry announcement makes this gateway drop from its caches."""

    def forget(partner: str | None, charger: str | None) -> None:
        everything = partner is None and charger is None
        if partner is not None or everything:
            app[AUTH].invalidate(partner)
            app[FEED].close_partner(partner)  # its streams end; reconnecting re-authenticates
        if charger is not None or everything:
            app[FEED].owners.invalidate(charger)

    return forget


async def _services(app: web.Application) -> AsyncIterator[None]:
    # After a Redis loss the ownership projection is gone; without it every charger is a 404.
    await registry.ensure_synced(app[POOL], app[REDIS], app[KEYS])
    async with AsyncExitStack() as stack:
        watch = RegistryWatch(app[REDIS], app[KEYS], _forget(app))
        await watch.start()
        stack.push_async_callback(watch.stop)
        await app[NODES].start()
        stack.push_async_callback(app[NODES].stop)
        await app[BUS].start()
        stack.push_async_callback(app[BUS].stop)
        stack.push_async_callback(app[DISPATCH].stop)
        app[LIST_SYNC].start()  # it sends through the bus and the dispatcher: stops first
        stack.push_async_callback(app[LIST_SYNC].stop)
        stack.push_async_callback(app[FEED].stop)
        stack.push_async_callback(app[SLOTS].stop)
        yield


async def _end_streams(app: web.Application) -> None:
    """on_shutdown: event streams would otherwise hold the shutdown until its timeout."""
    app[FEED].close_partner(None)


def create_app(
    settings: Settings, *, redis: Any = None, pool: asyncpg.Pool | None = None
) -> web.Application:
    """The gateway app; on startup it opens its own Redis client and pool unless given them."""
    if redis is None and not settings.redis_url:
        raise ValueError("the gateway needs settings.redis_url (or a Redis client)")
    if pool is None and not settings.database_url:
        raise ValueError("the gateway needs settings.database_url (or a pool)")

    app = web.Application(
        # measure everything, compress large answers, render every error, answer CORS
        # preflights, then guard partner and admin routes (in that order, as one)
        middlewares=[gateway_middleware],
        client_max_size=MAX_BODY_BYTES,
    )
    app[SETTINGS] = settings
    app[KEYS] = Keys.of(settings)
    app[DRAINING] = asyncio.Event()
    app[LAST_ANSWER] = [0.0]
    app.cleanup_ctx.append(_storage(redis, pool))
    app.cleanup_ctx.append(_services)
    app.on_shutdown.append(_end_streams)
    app.on_response_prepare.append(prepare_hook(_close_when_draining))
    add_routes(app)
    set_document(app, _openapi())
    return app


def _close_when_draining(request: web.Request, response: web.StreamResponse) -> None:
    # A kept-alive connection reused after the listener closes would be cut mid-request.
    if request.app[DRAINING].is_set():
        if not request.path.startswith(HEALTH_PATHS):  # a load balancer's checks go on
            request.app[LAST_ANSWER][0] = time.monotonic()
        response.force_close()
        response.headers["Connection"] = "close"  # the hook runs after aiohttp set its own


@cache
def _openapi() -> bytes:
    """The OpenAPI document: the route table does not change, so it is built once."""
    return orjson.dumps(
        document(
            ENDPOINTS,
            title=guide.TITLE,
            version=guide.VERSION,
            description=guide.DESCRIPTION,
            tags=guide.TAGS,
            extra_models=EVENT_MODELS,
        )
    )


# Draining ends once no request has come for this long: the load balancers have let go.
DRAIN_QUIET = 0.5
HEALTH_PATHS = f"{API}/health"


def drain_left(now: float, started: float, last_answer: float, least: float, most: float) -> float:
    """Seconds a drain that began at `started` goes on: at least `least` seconds, then until
    no request has come for DRAIN_QUIET, never past `most` seconds; 0 when it may end."""
    left = max(started + least, last_answer + DRAIN_QUIET) - now
    return max(0.0, min(left, started + most - now))


class GatewayService(Service):
    """A gateway process: the app on its port; on stop it first drains (readiness 503 and
    Connection: close for EVCS_SHUTDOWN_DRAIN_SECONDS, longer while requests keep coming, so
    load balancers stop sending), then lets the requests in flight finish."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings
        self.app = create_app(settings)
        self.ops: ops_http.OpsServer | None = None
        self.port: int | None = None  # the API's port once listening (settings may say 0)

    async def _start(self, stack: AsyncExitStack) -> None:
        settings, app = self.settings, self.app
        runner = GatewayRunner(
            app,
            access_log=None,  # gateway.observe writes the access log, in JSON with its id
            # long enough for a command that is waiting on a charger to get its answer
            shutdown_timeout=settings.command_timeout + REPLY_MARGIN + 1,
        )
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(
            runner, settings.gateway_host, settings.gateway_port, reuse_port=settings.reuse_port
        )
        await site.start()
        self.port = runner.addresses[0][1]
        stack.push_async_callback(self._drain)
        checks = {"redis": app[REDIS].ping, "postgresql": lambda: app[POOL].fetchval("SELECT 1")}
        self.ops = await ops_http.start(settings.ops_host, settings.ops_port, checks)
        if self.ops is not None:
            stack.push_async_callback(self.ops.stop)
        log.info(
            "gateway listening",
            extra={
                "host": settings.gateway_host,
                "port": settings.gateway_port,
                "instance_id": app[BUS].instance_id,
            },
        )

    async def _drain(self) -> None:
        s = self.settings
        log.info("gateway draining", extra={"seconds": s.shutdown_drain_seconds})
        started = time.monotonic()
        last = self.app[LAST_ANSWER]
        last[0] = started
        self.app[DRAINING].set()
        least, most = s.shutdown_drain_seconds, s.shutdown_drain_max_seconds
        while True:  # each wait ends when the drain might: its end moves with each request
            left = drain_left(time.monotonic(), started, last[0], least, most)
            if not left:
                break
            await asyncio.sleep(left)
        log.info("gateway stopping", extra={"drained_s": round(time.monotonic() - started, 2)})
