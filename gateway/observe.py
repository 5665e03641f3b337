"""Every request measured (Prometheus) and logged (one JSON access line, never the API key)."""

from __future__ import annotations

import logging
import time

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import Counter, Histogram

from gateway.errors import request_id
from gateway.security import source_address
from gateway.state import PARTNER

access_log = logging.getLogger("gateway.access")

# Labels stay bounded: route templates, not paths; partner ids (about ten) but no charger ids.
REQUESTS = Counter(
    "evcs_gateway_requests_total",
    "Partner API requests answered",
    ["route", "method", "status", "partner"],
)
RATE_LIMITED = Counter(
    "evcs_gateway_rate_limited_total", "Requests refused with 429 by the rate limit", ["partner"]
)
LATENCY = Histogram(
    "evcs_gateway_request_seconds",
    "Time to answer a request",
    ["route", "method"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _route(request: web.Request) -> str:
    match_info = request.match_info
    resource = match_info.route.resource
    if match_info.http_exception is not None or resource is None:
        return "unmatched"  # arbitrary paths must not become label values
    return resource.canonical


@web.middleware
async def observe_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 499  # stays so only if the client went away and the handler was cancelled
    try:
        response = await handler(request)
        status = response.status
        return response
    finally:
        elapsed = time.perf_counter() - started
        route = _route(request)
        method = request.method if request.method in _METHODS else "OTHER"
        record = request.get(PARTNER)
        partner = record.partner_id if record is not None else ""
        REQUESTS.labels(route, method, f"{status // 100}xx", partner).inc()
        LATENCY.labels(route, method).observe(elapsed)
        if access_log.isEnabledFor(logging.INFO):
            access_log.info(
                "request",
                extra={
                    "request_id": request_id(request),
                    "method": request.method,
                    "path": request.path,
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 3),
                    "partner_id": partner or None,
                    "remote": source_address(request),
                },
            )
