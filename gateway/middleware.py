"""What wraps every request, in one middleware, and what every answer gets before it goes out,
in one hook. One of each rather than five: aiohttp calls a middleware through a partial and a
coroutine of its own and awaits each on_response_prepare receiver in turn, which on a status
read cost more than the work they wrap.

In order, outermost first: measure and log everything (gateway.observe), compress large answers
(gateway.security), render every error as the standard body (gateway.errors), answer CORS
preflights, then guard partner and admin routes (gateway.guard) and run the handler.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.errors import add_request_id, failure_response
from gateway.guard import add_rate_headers, guard
from gateway.observe import observe
from gateway.security import (
    add_cors_headers,
    add_security_headers,
    compress_if_large,
    preflight,
)

Prepare = Callable[[web.Request, web.StreamResponse], None]


@web.middleware
async def gateway_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 499  # stays so only if the client went away and the handler was cancelled
    try:
        try:
            answer = preflight(request)
            if answer is not None:
                response: web.StreamResponse = answer
            else:
                await guard(request)
                response = await handler(request)
        except Exception as exc:
            response = failure_response(request, exc)  # re-raises a redirect
        compress_if_large(request, response)
        status = response.status
        return response
    finally:
        observe(request, started, status)


def prepare_hook(
    *last: Prepare,
) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """The on_response_prepare hook: the request id, the partner's quota, the security and
    CORS headers, then `last` (the app's own, such as closing while draining)."""
    steps: tuple[Prepare, ...] = (
        add_request_id,
        add_rate_headers,
        add_security_headers,
        add_cors_headers,
        *last,
    )

    async def prepare(request: web.Request, response: web.StreamResponse) -> None:
        for step in steps:
            step(request, response)

    return prepare
