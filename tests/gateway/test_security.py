"""Protective answers: security headers, HSTS behind TLS, CORS for configured origins, gzip
for large answers, and the rate limiter's documented behaviour while Redis is down."""

from __future__ import annotations

import gzip

import asyncpg
import pytest
import redis.asyncio as redis
from aiohttp import web

from gateway.app import create_app
from gateway.ratelimit import RateLimiter
from gateway.state import KEYS, LIMITER
from shared.redis_client import StandaloneRedis
from shared.redis_keys import F
from shared.settings import Settings
from tests.gateway.support import (
    Gateway,
    MakeCharger,
    MakeGateway,
    MakePartner,
    Partner,
    assert_error_body,
)


async def test_every_answer_has_the_security_headers(gw: Gateway, partner: Partner) -> None:
    for path, headers in (
        ("/api/v1/health", {}),
        ("/api/v1/chargers", partner.headers),
        ("/api/v1/chargers", {}),  # 401
        ("/api/v1/no-such-route", {}),
    ):
        resp = await gw.client.get(path, headers=headers)
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["Referrer-Policy"] == "no-referrer"
        assert (
            resp.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
        )
        assert resp.headers["Cache-Control"] == "no-store"
        assert "Strict-Transport-Security" not in resp.headers  # plain HTTP here


async def test_hsts_when_a_trusted_proxy_says_https(make_gateway: MakeGateway) -> None:
    trusting = await make_gateway(trust_forwarded_proto=True)
    resp = await trusting.client.get("/api/v1/health", headers={"X-Forwarded-Proto": "https"})
    assert resp.headers["Strict-Transport-Security"].startswith("max-age=")
    resp = await trusting.client.get("/api/v1/health", headers={"X-Forwarded-Proto": "http"})
    assert "Strict-Transport-Security" not in resp.headers
    untrusting = await make_gateway()
    resp = await untrusting.client.get("/api/v1/health", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in resp.headers


async def test_cors_only_for_configured_origins(
    make_gateway: MakeGateway, partner: Partner
) -> None:
    gw = await make_gateway(cors_origins="https://app.example.com, https://other.example.com")
    preflight = await gw.client.options(
        "/api/v1/chargers",
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "x-api-key",
        },
    )
    assert preflight.status == 204  # no key needed for a preflight
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "X-Api-Key" in preflight.headers["Access-Control-Allow-Headers"]
    assert "GET" in preflight.headers["Access-Control-Allow-Methods"]

    resp = await gw.client.get(
        "/api/v1/chargers", headers={**partner.headers, "Origin": "https://app.example.com"}
    )
    assert resp.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "RateLimit" in resp.headers["Access-Control-Expose-Headers"]
    assert "Origin" in resp.headers["Vary"]

    stranger = await gw.client.get(
        "/api/v1/chargers", headers={**partner.headers, "Origin": "https://evil.example"}
    )
    assert "Access-Control-Allow-Origin" not in stranger.headers
    preflight = await gw.client.options(
        "/api/v1/chargers",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status == 405 and "Access-Control-Allow-Origin" not in preflight.headers

    anyone = await make_gateway(cors_origins="*")
    resp = await anyone.client.get("/api/v1/health", headers={"Origin": "https://x.example"})
    assert resp.headers["Access-Control-Allow-Origin"] == "*"


async def test_large_answers_are_gzipped_small_ones_not(
    gw: Gateway, partner: Partner, charger: MakeCharger
) -> None:
    ids = [await charger(partner, **{F.RAW + "1": "Available"}) for _ in range(10)]
    resp = await gw.client.post(
        "/api/v1/chargers/batch/status",
        json={"ids": ids},
        headers={**partner.headers, "Accept-Encoding": "gzip"},
        auto_decompress=False,
    )
    assert resp.headers["Content-Encoding"] == "gzip"
    body = gzip.decompress(await resp.read())
    assert body.count(b'"chargerId"') == 10
    small = await gw.client.get(
        "/api/v1/health", headers={"Accept-Encoding": "gzip"}, auto_decompress=False
    )
    assert "Content-Encoding" not in small.headers
    plain = await gw.client.post(
        "/api/v1/chargers/batch/status",
        json={"ids": ids},
        headers={**partner.headers, "Accept-Encoding": "identity"},
        auto_decompress=False,
    )
    assert "Content-Encoding" not in plain.headers


@pytest.mark.parametrize("fail_open", [False, True], ids=["closed", "open"])
async def test_rate_limiting_while_redis_is_down(
    make_gateway: MakeGateway,
    make_partner: MakePartner,
    settings: Settings,
    rds: redis.Redis,
    pool: asyncpg.Pool,
    fail_open: bool,
) -> None:
    app = create_app(
        settings.model_copy(update={"rate_limit_fail_open": fail_open}), redis=rds, pool=pool
    )
    # the limiter's Redis is away (a port nothing listens on); the rest of the app is not
    dead = StandaloneRedis.from_url("redis://127.0.0.1:1/0", decode_responses=True)

    async def kill_limiter(app: web.Application) -> None:  # after the app wired its own
        app[LIMITER] = RateLimiter(dead, app[KEYS], 100, 1000)

    app.on_startup.append(kill_limiter)
    gw = await make_gateway(app)
    partner = await make_partner()
    try:
        resp = await gw.client.get("/api/v1/chargers", headers=partner.headers)
        if fail_open:
            assert resp.status == 200
            assert "RateLimit" not in resp.headers
        else:
            assert resp.status == 503
            assert resp.headers["Retry-After"] == "1"
            assert_error_body(await resp.json(), 503, "Service Unavailable", "/api/v1/chargers")
    finally:
        await dead.aclose()


async def test_a_batch_counts_as_one_request(
    gw: Gateway, make_partner: MakePartner, charger: MakeCharger
) -> None:
    partner = await make_partner(minute=5, hour=100)
    ids = [f"B-{i}" for i in range(1000)]
    resp = await gw.client.post(
        "/api/v1/chargers/batch/control",
        json={"ids": ids, "action": "off"},
        headers=partner.headers,
    )
    assert resp.status == 200
    assert resp.headers["RateLimit"].startswith("limit=5, remaining=4,")
    assert (await resp.json())["summary"] == {"NOT_FOUND": 1000}
