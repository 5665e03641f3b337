"""A route is declared once, beside its handler: the declaration says who may call it (there
is no default), and the guard reads it from the route a request matched; an endpoint's
handler reads its query and body through its declaration, so the models that validate are
the ones the OpenAPI document describes."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
import redis.asyncio as redis
from aiohttp import web
from pydantic import BaseModel, SecretStr

from gateway.api import DECLARED, Endpoint, Route, serve
from gateway.app import create_app
from gateway.routes import ENDPOINTS
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
    assert (await gw.client.head("/api/docs")).status == 200  # declared with head=True


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


# Path parameters that pass every handler's own checks, so that validation is what answers.
_PATH_IDS = {
    "chargerId": "CP-X",
    "partnerId": "acme",
    "keyId": "key_0000000000000000",
    "tokenId": "TOK-X",
}


def _headers(ep: Endpoint[Any, Any], partner: Partner) -> dict[str, str]:
    return {"partner": partner.headers, "admin": admin_headers(), "public": {}}[ep.access]


@pytest.mark.parametrize(
    "ep", [e for e in ENDPOINTS if e.query is not None], ids=lambda e: e.operation_id
)
async def test_the_declared_query_model_is_what_validates(
    gw: Gateway, partner: Partner, ep: Endpoint[Any, Any]
) -> None:
    resp = await gw.client.request(
        ep.method,
        ep.path.format(**_PATH_IDS),
        params={"surplus": "1"},
        json=ep.body_example,  # a valid body, so that only the query is wrong
        headers=_headers(ep, partner),
    )
    assert resp.status == 400
    assert "surplus" in (await resp.json())["message"]  # refused by the declared model


@pytest.mark.parametrize(
    "ep", [e for e in ENDPOINTS if e.body is not None], ids=lambda e: e.operation_id
)
async def test_the_declared_body_model_is_what_validates(
    gw: Gateway, partner: Partner, ep: Endpoint[Any, Any]
) -> None:
    resp = await gw.client.request(
        ep.method,
        ep.path.format(**_PATH_IDS),
        json={**ep.body_example, "surplus": 1},
        headers=_headers(ep, partner),
    )
    assert resp.status == 400
    assert "surplus" in (await resp.json())["message"]


class _Filter(BaseModel):
    colour: str


async def test_a_handler_reads_only_through_its_own_endpoint(
    make_gateway: MakeGateway, settings: Settings, rds: redis.Redis, pool: asyncpg.Pool
) -> None:
    async def reads_its_own(request: web.Request) -> web.Response:
        return web.json_response({"colour": own.query_of(request).colour})

    async def reads_another(request: web.Request) -> web.Response:
        return web.json_response({"colour": own.query_of(request).colour})

    async def reads_no_body(request: web.Request) -> web.Response:
        await bodiless.body_of(request)
        return web.json_response({})

    own = Endpoint(
        "GET",
        "/api/v1/test/own",
        reads_its_own,
        "own",
        "Own",
        "tests",
        access="public",
        query=_Filter,
    )
    other = Endpoint(
        "GET", "/api/v1/test/other", reads_another, "other", "Other", "tests", access="public"
    )
    bodiless = Endpoint(
        "POST", "/api/v1/test/bodiless", reads_no_body, "bodiless", "B", "tests", access="public"
    )
    app = _app(settings, rds, pool)
    serve(app, [own, other, bodiless])
    g = await make_gateway(app)
    resp = await g.client.get("/api/v1/test/own", params={"colour": "red"})
    assert await resp.json() == {"colour": "red"}
    # another endpoint's model is not what this route documents: a bug, never an answer
    resp = await g.client.get("/api/v1/test/other", params={"colour": "red"})
    assert resp.status == 500
    resp = await g.client.post("/api/v1/test/bodiless", json={})
    assert resp.status == 500  # no body declared, none read
