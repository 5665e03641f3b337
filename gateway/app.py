"""The gateway application: create it (for tests and embedding) or run it as a process."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable

import asyncpg
from aiohttp import web
from redis.asyncio import Redis

from gateway.auth import Authenticator
from gateway.commands import REPLY_MARGIN, CommandBus
from gateway.errors import add_request_id, error_middleware
from gateway.guard import add_rate_headers, guard_middleware
from gateway.jsonio import MAX_BODY_BYTES
from gateway.nodes import AliveNodes
from gateway.observe import observe_middleware
from gateway.ratelimit import RateLimiter
from gateway.routes import add_routes
from gateway.state import AUTH, BUS, KEYS, LIMITER, NODES, POOL, REDIS, SETTINGS
from shared import db, registry
from shared.process import wait_for_signal
from shared.redis_client import connect
from shared.redis_keys import Keys
from shared.settings import Settings

log = logging.getLogger(__name__)

CleanupCtx = Callable[[web.Application], AsyncIterator[None]]


def _storage(pool: asyncpg.Pool | None, own_redis: bool) -> CleanupCtx:
    """Open the pool unless one was given; on the way out close only what we opened."""

    async def storage(app: web.Application) -> AsyncIterator[None]:
        created: asyncpg.Pool | None = None
        if pool is None:
            created = await db.create_pool(app[SETTINGS].database_url or "")
            app[POOL] = created
        else:
            app[POOL] = pool
        try:
            yield
        finally:
            if created is not None:
                await created.close()
            if own_redis:
                await app[REDIS].aclose()

    return storage


async def _services(app: web.Application) -> AsyncIterator[None]:
    # After a Redis loss the ownership projection is gone; without it every charger is a 404.
    await registry.ensure_synced(app[POOL], app[REDIS], app[KEYS])
    await app[NODES].start()
    try:
        await app[BUS].start()
        try:
            yield
        finally:
            await app[BUS].stop()
    finally:
        await app[NODES].stop()


def create_app(
    settings: Settings, *, redis: Redis | None = None, pool: asyncpg.Pool | None = None
) -> web.Application:
    """The gateway app; it opens its own Redis client and pool unless given them."""
    if redis is None and not settings.redis_url:
        raise ValueError("the gateway needs settings.redis_url (or a Redis client)")
    if pool is None and not settings.database_url:
        raise ValueError("the gateway needs settings.database_url (or a pool)")
    own_redis = redis is None
    r = redis if redis is not None else connect(settings.redis_url or "")
    keys = Keys(settings.redis_prefix)

    app = web.Application(
        # outermost first: measure everything, render every error, then guard partner routes
        middlewares=[observe_middleware, error_middleware, guard_middleware],
        client_max_size=MAX_BODY_BYTES,
    )
    app[SETTINGS] = settings
    app[KEYS] = keys
    app[REDIS] = r
    app[NODES] = AliveNodes(r, keys)
    app[BUS] = CommandBus(r, keys, app[NODES])
    app[LIMITER] = RateLimiter(r, keys, settings.rate_limit_minute, settings.rate_limit_hour)
    app[AUTH] = Authenticator(
        lambda digest: registry.find_key(app[POOL], digest), settings.key_cache_seconds
    )
    app.cleanup_ctx.append(_storage(pool, own_redis))
    app.cleanup_ctx.append(_services)
    app.on_response_prepare.append(add_request_id)
    app.on_response_prepare.append(add_rate_headers)
    add_routes(app)
    return app


async def run_gateway(settings: Settings) -> None:
    """Serve the gateway until SIGTERM or SIGINT, then let in-flight requests finish."""
    app = create_app(settings)
    runner = web.AppRunner(
        app,
        access_log=None,  # observe_middleware writes the access log, in JSON with the request id
        # long enough for a command that is waiting on a charger to get its answer
        shutdown_timeout=settings.command_timeout + REPLY_MARGIN + 1,
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.gateway_host, settings.gateway_port)
        await site.start()
        log.info(
            "gateway listening",
            extra={
                "host": settings.gateway_host,
                "port": settings.gateway_port,
                "instance_id": app[BUS].instance_id,
            },
        )
        await wait_for_signal()
        log.info("gateway stopping")
    finally:
        await runner.cleanup()
