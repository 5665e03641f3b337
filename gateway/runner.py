"""The gateway's HTTP runner: aiohttp's, except that what aiohttp answers by itself — a request
it cannot parse (an oversized header or path, a broken chunk, not HTTP at all) — gets the
standard error body and the security headers, and neither the answer nor the log line
repeats the bad bytes."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from gateway.errors import error_body
from gateway.security import SECURITY_HEADERS, SERVER

log = logging.getLogger(__name__)


class _Handler(RequestHandler):
    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if status >= 500:
            log.error("request failed outside the app", exc_info=exc)
        else:
            # aiohttp's own message quotes the offending bytes: the exception's name is enough
            log.info(
                "unparseable request",
                extra={"status": status, "reason": type(exc).__name__, "remote": request.remote},
            )
        if request.writer.output_size > 0:
            raise ConnectionError("an answer was already being sent")
        description = "the request is not valid HTTP" if status < 500 else "internal server error"
        # the path too may be what could not be read
        body = error_body(status, description, HTTPStatus(status).phrase, path="")
        response = web.Response(
            body=body,
            status=status,
            headers={**SECURITY_HEADERS, "Server": SERVER},
            content_type="application/json",
        )
        response.force_close()
        return response


class _Server(web.Server):
    def __call__(self) -> RequestHandler:
        return _Handler(self, loop=self._loop, **self._kwargs)


class GatewayRunner(web.AppRunner):
    """web.AppRunner whose connections answer unparseable requests as above."""

    async def _make_server(self) -> web.Server:
        made = await super()._make_server()
        return _Server(
            made.request_handler,
            request_factory=made.request_factory,
            handler_cancellation=made.handler_cancellation,
            loop=made._loop,
            **made._kwargs,
        )
