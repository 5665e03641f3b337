"""A route is declared once, beside its handler: the declaration says who may call it (there
is no default), and the guard reads it from the route a request matched."""

from __future__ import annotations

import asyncpg
import pytest
import redis.asyncio as redis
from aiohttp import web
from pydantic import SecretStr

from gateway.api import DECLARED, Endpoint, Route, serve
from gateway.app import create_app
from shared.settings import Settings
from tests.gateway.support import ADMIN_TOKEN, Gateway, MakeGateway, Partner, admin_headers


async def _ok(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def test_a_route_cannot_be_declared_without_who_may_call_it() -> None:
    with pytest.raises(TypeError, match="access"):
        Route("GET", "/x", _ok)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="access"):
        Endpoint("GET", "/x", _ok, "x", "X", "tests")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="everyone"):
        Route("GET", "/x", _ok, access="everyone")  # type: ignore[arg-type]


async def test_every_served_route_is_declared(gw: Gateway) -> None:
    declared = gw.app[DECLARED]
    routes = list(gw.app.router.routes())
    assert routes and all(route in declared for route in routes)
    assert (await gw.client.head("/metrics")).status == 200  # declared with head=True


def _app(settings: Settings, rds: redis.Redis, pool: asyncpg.Pool) -> web.Application:
    s = settings.model_copy(update={"admin_token": SecretStr(ADMIN_TOKEN)})
    return create_app(s, redis=rds, pool=pool)


async def test_the_guard_reads_the_access_of_the_matched_route(
    make_gateway: MakeGateway,
    settings: Settings,
    rds: redis.Redis,
    pool: asyncpg.Pool,
    partner: Partner,
) -> None:
    app = _app(settings, rds, pool)
    # one handler behind three routes: access belongs to the route, not to the handler
    serve(
        app,
        [
            Route("GET", "/api/v1/test/public", _ok, access="public"),
            Route("GET", "/api/v1/test/partner", _ok, access="partner"),
            Route("GET", "/api/v1/test/admin", _ok, access="admin"),
        ],
    )
    g = await make_gateway(app)
    callers = {"nobody": {}, "partner": partner.headers, "admin": admin_headers()}
    expected = {
        "public": {"nobody": 200, "partner": 200, "admin": 200},
        "partner": {"nobody": 401, "partner": 200, "admin": 401},
        "admin": {"nobody": 401, "partner": 403, "admin": 200},
    }
    for access, statuses in expected.items():
        for caller, status in statuses.items():
            resp = await g.client.get(f"/api/v1/test/{access}", headers=callers[caller])
            assert resp.status == status, (access, caller)


async def test_a_route_added_without_a_declaration_is_refused(
    make_gateway: MakeGateway, settings: Settings, rds: redis.Redis, pool: asyncpg.Pool
) -> None:
    app = _app(settings, rds, pool)
    app.router.add_get("/api/v1/test/undeclared", _ok)
    g = await make_gateway(app)
    resp = await g.client.get("/api/v1/test/undeclared")
    assert resp.status == 500  # never served open for want of an access rule
