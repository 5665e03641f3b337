"""What stands before every partner route: the API key, then the rate limit."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.errors import ApiError
from gateway.state import AUTH, LIMITER, PARTNER, RATE

_PUBLIC = "_evcs_public"


def public(handler: Handler) -> Handler:
    """Mark a handler as open to anyone: no key, no rate limit."""
    setattr(handler, _PUBLIC, True)
    return handler


@web.middleware
async def guard_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    match_info = request.match_info
    # Unmatched paths fall through to their 404/405 without a key: they reveal nothing.
    if match_info.http_exception is not None or getattr(match_info.handler, _PUBLIC, False):
        return await handler(request)
    record = await request.app[AUTH].authenticate(request)
    request[PARTNER] = record
    decision = await request.app[LIMITER].hit(record)
    request[RATE] = decision
    if not decision.allowed:
        raise ApiError(
            429,
            f"rate limit exceeded; retry in {decision.reset} s",
            headers={"Retry-After": str(decision.reset)},
        )
    return await handler(request)


async def add_rate_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare hook: every answer to a known partner shows its quota."""
    decision = request.get(RATE)
    if decision is not None:
        response.headers.update(decision.headers())
