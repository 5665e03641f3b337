"""A tiny operations server for processes without an HTTP API of their own (csms, recorder):
`/metrics` for Prometheus, `/health` (alive) and `/health/ready` (every given check passes)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[object]]
CHECK_TIMEOUT = 2.0


async def run_checks(checks: Mapping[str, Check], timeout: float = CHECK_TIMEOUT) -> dict[str, str]:
    """Each check's state: "ok" when it returned within the timeout, else "unavailable"."""

    async def one(check: Check) -> str:
        try:
            async with asyncio.timeout(timeout):
                await check()
        except Exception:
            return "unavailable"
        return "ok"

    states = await asyncio.gather(*(one(check) for check in checks.values()))
    return dict(zip(checks, states, strict=True))


def _json(body: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


class OpsServer:
    """Serves the three endpoints on host:port until stopped; port 0 picks a free one."""

    def __init__(
        self,
        host: str,
        port: int,
        checks: Mapping[str, Check] | None = None,
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        self.host = host
        self._port = port
        self.checks = dict(checks or {})
        self.registry = registry
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None

    @property
    def port(self) -> int:
        assert self._runner is not None, "not started"
        port: int = self._runner.addresses[0][1]
        return port

    async def health(self, request: web.Request) -> web.Response:
        return _json({"status": "ok"})

    async def ready(self, request: web.Request) -> web.Response:
        states = await run_checks(self.checks)
        failed = sorted(name for name, state in states.items() if state != "ok")
        if failed:
            return _json(
                {
                    "status": "unavailable",
                    "message": f"not ready: {', '.join(failed)}",
                    "checks": states,
                },
                503,
            )
        return _json({"status": "ok", "checks": states})

    async def metrics(self, request: web.Request) -> web.Response:
        response = web.Response(body=generate_latest(self.registry))
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/health", self.health)
        app.router.add_get("/health/ready", self.ready)
        app.router.add_get("/metrics", self.metrics)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, self.host, self._port)
        await self._site.start()
        log.info("ops endpoints listening", extra={"host": self.host, "port": self.port})

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            self._site = None


async def start(
    host: str, port: int | None, checks: Mapping[str, Check] | None = None
) -> OpsServer | None:
    """Start an ops server, or nothing when no port is configured."""
    if port is None:
        return None
    server = OpsServer(host, port, checks)
    await server.start()
    return server
