"""Liveness and readiness: open to anyone, for load balancers. Metrics are served on the ops
port (EVCS_OPS_PORT), not here: they name every partner and its traffic."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Literal

from aiohttp import web

from gateway.api import Endpoint, Reply
from gateway.errors import ApiError
from gateway.jsonio import json_response
from gateway.routes.paths import API
from gateway.schemas import HealthJson, ReadyChecks, ReadyJson
from gateway.state import DRAINING, POOL, REDIS

PROBE_TIMEOUT = 2.0


async def health(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


HEALTH = Endpoint(
    "GET",
    f"{API}/health",
    health,
    "health",
    "Liveness",
    "operations",
    access="public",
    description="200 while the process serves requests. No key needed.",
    replies={200: Reply("Alive", HealthJson, {"status": "ok"})},
)


async def _probe(check: Awaitable[object]) -> Literal["ok", "unavailable"]:
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            await check
    except Exception:
        return "unavailable"
    return "ok"


async def storage_checks(app: web.Application) -> ReadyChecks:
    """Whether Redis answers PING and PostgreSQL SELECT 1, each within the timeout."""
    redis_state, pg_state = await asyncio.gather(
        _probe(app[REDIS].ping()), _probe(app[POOL].fetchval("SELECT 1"))
    )
    return {"redis": redis_state, "postgresql": pg_state}


async def ready(request: web.Request) -> web.Response:
    """Ready when Redis answers PING and PostgreSQL answers SELECT 1, both within the timeout,
    and the gateway is not draining for a shutdown."""
    if request.app[DRAINING].is_set():
        raise ApiError(503, "not ready: shutting down", headers={"Connection": "close"})
    checks = await storage_checks(request.app)
    failed = [name for name, state in checks.items() if state != "ok"]
    if failed:
        raise ApiError(503, f"not ready: {', '.join(failed)} unavailable", extra={"checks": checks})
    return json_response({"status": "ok", "checks": checks})


READY = Endpoint(
    "GET",
    f"{API}/health/ready",
    ready,
    "ready",
    "Readiness: Redis and PostgreSQL answer",
    "operations",
    access="public",
    replies={
        200: Reply(
            "Ready",
            ReadyJson,
            {"status": "ok", "checks": {"redis": "ok", "postgresql": "ok"}},
        )
    },
    errors={503: "Not ready: `checks` names what is unavailable"},
)
