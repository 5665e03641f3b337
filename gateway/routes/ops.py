"""Liveness, readiness and metrics: open to anyone, for load balancers and Prometheus."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.api import Endpoint, Reply, Route
from gateway.errors import ApiError
from gateway.jsonio import json_response
from gateway.routes.paths import API
from gateway.schemas import HealthJson, ReadyJson
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


async def _probe(check: Awaitable[object]) -> str:
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            await check
    except Exception:
        return "unavailable"
    return "ok"


async def ready(request: web.Request) -> web.Response:
    """Ready when Redis answers PING and PostgreSQL answers SELECT 1, both within the timeout,
    and the gateway is not draining for a shutdown."""
    if request.app[DRAINING].is_set():
        raise ApiError(503, "not ready: shutting down", headers={"Connection": "close"})
    redis_state, pg_state = await asyncio.gather(
        _probe(request.app[REDIS].ping()), _probe(request.app[POOL].fetchval("SELECT 1"))
    )
    checks = {"redis": redis_state, "postgresql": pg_state}
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


async def metrics(request: web.Request) -> web.Response:
    response = web.Response(body=generate_latest())
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


METRICS = Route("GET", "/metrics", metrics, access="public", head=True)
