"""Every request measured (Prometheus) and logged (one JSON access line, never the API key)."""

from __future__ import annotations

import logging
import time
from typing import Any

from aiohttp import web
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


# (route, method, status class, partner) -> its counter and histogram: labels() looks them up
# under a lock and checks the label values on every call; the label sets are the same bounded
# ones either way.
_series: dict[tuple[str, str, int, str], tuple[Any, Any]] = {}


def _series_of(route: str, method: str, status_class: int, partner: str) -> tuple[Any, Any]:
    found = (
        REQUESTS.labels(route, method, f"{status_class}xx", partner),
        LATENCY.labels(route, method),
    )
    _series[(route, method, status_class, partner)] = found
    return found


def _route(request: web.Request) -> str:
    match_info = request.match_info
    resource = match_info.route.resource
    if match_info.http_exception is not None or resource is None:
        return "unmatched"  # arbitrary paths must not become label values
    return resource.canonical


def observe(request: web.Request, started: float, status: int) -> None:
    """Count and time an answered request (`started` from time.perf_counter; status 499 when
    the client went away and the handler was cancelled), and write its access log line."""
    elapsed = time.perf_counter() - started
    route = _route(request)
    method = request.method if request.method in _METHODS else "OTHER"
    record = request.get(PARTNER)
    partner = record.partner_id if record is not None else ""
    series = _series.get((route, method, status // 100, partner))
    if series is None:
        series = _series_of(route, method, status // 100, partner)
    series[0].inc()
    series[1].observe(elapsed)
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
