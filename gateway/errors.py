"""The one error type and the middleware that renders every failure as the standard JSON body."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

import orjson
from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from shared import db, registry
from shared.redis_client import UNAVAILABLE

log = logging.getLogger(__name__)

REQUEST_ID = web.RequestKey("request_id", str)
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@+=/-]{1,128}")

# A storage server we cannot reach (or a Redis Cluster failing over, a slot with no owner) is
# the caller's "try again later", not our bug.
STORAGE_UNAVAILABLE: tuple[type[BaseException], ...] = (
    *UNAVAILABLE,
    *db.UNAVAILABLE,
    ConnectionError,
)


class ApiError(Exception):
    """An HTTP error with a message for the client; `error` defaults to the reason phrase."""

    def __init__(
        self,
        status: int,
        message: str,
        error: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error = error or HTTPStatus(status).phrase
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


def request_id(request: web.Request) -> str:
    """The request's id: the client's X-Request-Id when it is sane, else a fresh one."""
    rid = request.get(REQUEST_ID)
    if rid is None:
        sent = request.headers.get("X-Request-Id")
        # 128 random bits as 32 hex digits, like a uuid4's hex without its cost
        rid = sent if sent and _SANE_REQUEST_ID.fullmatch(sent) else os.urandom(16).hex()
        request[REQUEST_ID] = rid
    return rid


def _timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def error_body(
    status: int, message: str, error: str, path: str, extra: Mapping[str, Any] | None = None
) -> bytes:
    """The standard error body, as JSON."""
    body = {
        "statusCode": status,
        "message": message,
        "error": error,
        "timestamp": _timestamp(),
        "path": path,
        **(extra or {}),
    }
    return orjson.dumps(body)


def error_response(request: web.Request, exc: ApiError) -> web.Response:
    return web.Response(
        body=error_body(exc.status, exc.message, exc.error, request.path, exc.extra),
        status=exc.status,
        headers=exc.headers,
        content_type="application/json",
    )


def _from_http_exception(request: web.Request, exc: web.HTTPException) -> ApiError:
    """aiohttp's own errors (no route, wrong method, body too large) in our shape."""
    headers: dict[str, str] = {}
    if isinstance(exc, web.HTTPMethodNotAllowed):
        headers[hdrs.ALLOW] = exc.headers[hdrs.ALLOW]
        message = f"method {request.method} is not allowed here; allowed: {exc.headers[hdrs.ALLOW]}"
    elif isinstance(exc, web.HTTPNotFound) and request.match_info.http_exception is exc:
        message = f"no route for {request.method} {request.path}"
    elif exc.text and exc.text != f"{exc.status}: {exc.reason}":
        message = exc.text
    else:
        message = HTTPStatus(exc.status).phrase
    return ApiError(exc.status, message, headers=headers)


def _registry_status(exc: registry.RegistryError) -> int:
    if isinstance(exc, registry.NotFound):
        return 404
    if isinstance(exc, registry.Conflict):
        return 409
    return 400


def failure_response(request: web.Request, exc: Exception) -> web.Response:
    """The standard error body for whatever a handler raised; never leaks internals on a 500.
    Re-raises what is no error (an HTTPException below 400: a redirect)."""
    if isinstance(exc, ApiError):
        return error_response(request, exc)
    if isinstance(exc, registry.RegistryError):
        return error_response(request, ApiError(_registry_status(exc), str(exc)))
    if isinstance(exc, web.HTTPException):
        if exc.status < 400:
            raise exc
        return error_response(request, _from_http_exception(request, exc))
    if isinstance(exc, STORAGE_UNAVAILABLE):
        log.warning("storage unavailable", exc_info=exc, extra={"request_id": request_id(request)})
        return error_response(
            request, ApiError(503, "a storage service is unavailable; retry later")
        )
    log.error("unhandled error", exc_info=exc, extra={"request_id": request_id(request)})
    return error_response(request, ApiError(500, "internal server error"))


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every exception into the standard error body (the gateway's own middleware,
    gateway.middleware, does the same inline)."""
    try:
        return await handler(request)
    except Exception as exc:
        return failure_response(request, exc)


def add_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """Before any answer goes out (gateway.middleware.prepare_hook): every answer, streamed or
    not, names its request."""
    response.headers["X-Request-Id"] = request_id(request)
