"""Health, readiness, metrics, request ids and the one error body for every failure."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import asyncpg
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from prometheus_client import generate_latest

from gateway.api import Route, serve
from gateway.app import GatewayService, create_app, drain_left
from gateway.errors import error_middleware
from gateway.state import DRAINING
from shared.settings import Settings
from tests.gateway.support import Gateway, MakeGateway, Partner, assert_error_body


async def test_health_needs_no_key(gw: Gateway) -> None:
    resp = await gw.client.get("/api/v1/health")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok"}
    assert "RateLimit" not in resp.headers


async def test_ready_checks_redis_and_postgres(gw: Gateway) -> None:
    resp = await gw.client.get("/api/v1/health/ready")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok", "checks": {"redis": "ok", "postgresql": "ok"}}


def test_a_drain_lasts_its_minimum_then_until_requests_stop_coming_within_its_maximum() -> None:
    least, most = 1.0, 10.0
    # no request since it began: it ends after its minimum
    assert drain_left(0.2, 0.0, 0.0, least, most) == pytest.approx(0.8)
    assert drain_left(1.0, 0.0, 0.0, least, most) == 0
    # a load balancer still sending keeps it going until half a second without a request
    assert drain_left(1.0, 0.0, 0.9, least, most) == pytest.approx(0.4)
    assert drain_left(1.4, 0.0, 0.9, least, most) == 0
    # never past its maximum, however long requests keep coming
    assert drain_left(9.9, 0.0, 9.8, least, most) == pytest.approx(0.1)
    assert drain_left(10.0, 0.0, 9.99, least, most) == 0


async def test_a_draining_gateway_is_not_ready_and_closes_each_connection(gw: Gateway) -> None:
    gw.app[DRAINING].set()  # what SIGTERM does before the listener closes
    ready = await gw.client.get("/api/v1/health/ready")
    assert ready.status == 503
    assert "shutting down" in (await ready.json())["message"]
    health = await gw.client.get("/api/v1/health")
    assert health.status == 200  # still answering, so nothing in flight is dropped
    assert health.headers.get("Connection", "").lower() == "close"


async def test_ready_names_what_failed(
    make_gateway: MakeGateway, settings: Settings, rds: Any
) -> None:
    assert settings.database_url
    doomed = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=1)
    g = await make_gateway(create_app(settings, redis=rds, pool=doomed))
    await doomed.close()  # the gateway did not create it, so it stays closed under its feet
    resp = await g.client.get("/api/v1/health/ready")
    assert resp.status == 503
    body = await resp.json()
    assert_error_body(body, 503, "Service Unavailable", "/api/v1/health/ready")
    assert "postgresql" in body["message"] and "redis" not in body["message"]
    assert body["checks"] == {"redis": "ok", "postgresql": "unavailable"}


async def test_unknown_route_is_a_json_404(gw: Gateway) -> None:
    resp = await gw.client.get("/api/v1/nope")
    assert resp.status == 404
    assert resp.content_type == "application/json"
    assert_error_body(await resp.json(), 404, "Not Found", "/api/v1/nope")


async def test_wrong_method_is_a_json_405_with_allow(gw: Gateway) -> None:
    resp = await gw.client.delete("/api/v1/chargers/CP-1/status")
    assert resp.status == 405
    assert set(resp.headers["Allow"].split(",")) >= {"GET", "PUT"}
    assert_error_body(await resp.json(), 405, "Method Not Allowed", "/api/v1/chargers/CP-1/status")


async def test_oversized_body_is_a_json_413(gw: Gateway, partner: Partner) -> None:
    resp = await gw.client.post(
        "/api/v1/chargers/batch/status",
        data=b'{"ids": ["' + b"A" * 300_000 + b'"]}',
        headers={**partner.headers, "Content-Type": "application/json"},
    )
    assert resp.status == 413
    assert_error_body(
        await resp.json(), 413, "Request Entity Too Large", "/api/v1/chargers/batch/status"
    )


async def test_unexpected_exception_is_a_500_without_internals(
    make_gateway: MakeGateway, settings: Settings, rds: Any, pool: asyncpg.Pool
) -> None:
    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("secret internals: password=hunter2")

    app = create_app(settings, redis=rds, pool=pool)
    serve(app, [Route("GET", "/api/v1/boom", boom, access="public")])
    g = await make_gateway(app)
    resp = await g.client.get("/api/v1/boom")
    assert resp.status == 500
    text = await resp.text()
    assert "hunter2" not in text and "RuntimeError" not in text
    assert_error_body(await resp.json(), 500, "Internal Server Error", "/api/v1/boom")


async def test_request_id_is_echoed_when_sane_and_made_up_otherwise(gw: Gateway) -> None:
    resp = await gw.client.get("/api/v1/health", headers={"X-Request-Id": "abc-123"})
    assert resp.headers["X-Request-Id"] == "abc-123"
    resp = await gw.client.get("/api/v1/nope", headers={"X-Request-Id": "abc-456"})
    assert resp.status == 404 and resp.headers["X-Request-Id"] == "abc-456"
    resp = await gw.client.get("/api/v1/chargers", headers={"X-Request-Id": "abc-789"})
    assert resp.status == 401 and resp.headers["X-Request-Id"] == "abc-789"
    for insane in ("x" * 500, "has spaces", "new\tline"):
        resp = await gw.client.get("/api/v1/health", headers={"X-Request-Id": insane})
        assert resp.headers["X-Request-Id"] != insane
        assert re.fullmatch(r"[0-9a-f]{32}", resp.headers["X-Request-Id"])
    one = (await gw.client.get("/api/v1/health")).headers["X-Request-Id"]
    two = (await gw.client.get("/api/v1/health")).headers["X-Request-Id"]
    assert one != two


async def test_metrics_count_by_route_template(gw: Gateway, partner: Partner) -> None:
    await gw.client.get("/api/v1/chargers/SOME-ID/status", headers=partner.headers)
    await gw.client.get("/api/v1/no/such/path")
    text = generate_latest().decode()  # what the ops port's /metrics serves
    route = "/api/v1/chargers/{chargerId}/status"
    labels = f'method="GET",partner="{partner.id}",route="{route}",status="4xx"'
    assert "evcs_gateway_requests_total{" + labels + "}" in text
    assert 'route="unmatched"' in text
    assert "SOME-ID" not in text and "/no/such/path" not in text
    assert "evcs_gateway_request_seconds_bucket" in text


@pytest.mark.parametrize(
    ("content_type", "data", "status"),
    [
        ("text/plain", b'{"action": "on"}', 415),
        ("application/json", b'{"action": "on"', 400),
        ("application/json", b"[]", 400),
        ("application/json", b'{"action": "on", "connectorId": "1"}', 400),
        ("application/json", b'{"action": "on", "connectorId": 0}', 400),
        ("application/json", b'{"action": "on", "idTag": "x"}'.replace(b"x", b"x" * 21), 400),
        ("application/json", b'{"action": "on", "colour": "red"}', 400),
        ("application/json", b'{"action": "explode"}', 400),
    ],
)
async def test_bad_bodies_get_400_or_415(
    gw: Gateway, partner: Partner, content_type: str, data: bytes, status: int
) -> None:
    resp = await gw.client.post(
        "/api/v1/chargers/CP-X/control",
        data=data,
        headers={**partner.headers, "Content-Type": content_type},
    )
    assert resp.status == status
    path = "/api/v1/chargers/CP-X/control"
    body = await resp.json()
    assert_error_body(
        body, status, "Bad Request" if status == 400 else "Unsupported Media Type", path
    )


async def test_metrics_are_not_on_the_public_port(gw: Gateway) -> None:
    # They list every partner and its traffic: served on EVCS_OPS_PORT only.
    for method in ("GET", "HEAD"):
        assert (await gw.client.request(method, "/metrics")).status == 404


async def test_the_gateway_serves_metrics_and_health_on_its_ops_port(settings: Settings) -> None:
    service = GatewayService(settings.model_copy(update={"gateway_port": 0, "ops_port": 0}))
    async with service, aiohttp.ClientSession() as http:
        assert service.ops is not None
        base = f"http://127.0.0.1:{service.ops.port}"
        async with http.get(f"{base}/metrics") as r:
            assert r.status == 200 and "evcs_gateway_requests_total" in await r.text()
        async with http.get(f"{base}/health/ready") as r:
            assert r.status == 200


MARK = b"<evil-9f1c>"
UNPARSEABLE = {
    "header-10k": b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + MARK * 1000 + b"\r\n\r\n",
    "path-10k": b"GET /" + MARK * 1000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "bad-chunk": b"POST /api/v1/chargers/batch/status HTTP/1.1\r\nHost: x\r\n"
    b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + MARK + b"\r\n\r\n",
    "not-http": MARK + b"\r\n\r\n",
}


async def _raw_exchange(port: int, request: bytes) -> tuple[bytes, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)  # the gateway closes after it
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return head, body


@pytest.fixture
async def service(settings: Settings) -> AsyncIterator[GatewayService]:
    async with GatewayService(settings.model_copy(update={"gateway_port": 0})) as running:
        yield running


@pytest.mark.parametrize("request_bytes", UNPARSEABLE.values(), ids=UNPARSEABLE.keys())
async def test_what_cannot_be_parsed_gets_the_standard_body_and_echoes_nothing(
    service: GatewayService, request_bytes: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    assert service.port is not None
    with caplog.at_level(logging.DEBUG):
        head, body = await _raw_exchange(service.port, request_bytes)
    lines = head.decode().split("\r\n")
    assert lines[0].split(" ")[1] == "400"
    headers = {k.lower(): v for k, _, v in (line.partition(": ") for line in lines[1:])}
    assert headers["content-type"].startswith("application/json")
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-security-policy"].startswith("default-src 'none'")
    assert headers["server"] == "evcs"
    assert_error_body(orjson.loads(body), 400, "Bad Request", "")
    assert MARK not in head + body
    assert MARK.decode() not in caplog.text


async def test_no_answer_names_the_server_software(service: GatewayService) -> None:
    assert service.port is not None
    head, _ = await _raw_exchange(
        service.port, b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert b"200 OK" in head.split(b"\r\n")[0]
    assert b"\r\nServer: evcs" in head
    assert b"aiohttp" not in head and b"Python" not in head


@pytest.mark.parametrize(
    "down",
    [
        asyncpg.CannotConnectNowError("the database system is shutting down"),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.InternalClientError("cannot switch to state 13; another operation is in progress"),
        asyncpg.InterfaceError("connection is closed"),
    ],
    ids=["shutting-down", "starting-up", "connection-lost-mid-query", "closed"],
)
async def test_postgresql_restarting_is_a_503_not_a_500(down: Exception) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        raise down

    request = make_mocked_request("POST", "/api/v1/chargers/CP-1/control")
    response = await error_middleware(request, handler)
    assert isinstance(response, web.Response) and response.body is not None
    assert response.status == 503
    body = orjson.loads(response.body)  # type: ignore[arg-type]
    assert body["error"] == "Service Unavailable" and "retry" in body["message"]
