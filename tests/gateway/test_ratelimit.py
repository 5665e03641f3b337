"""Rate limits: one budget per partner across gateway instances, with IETF RateLimit headers."""

from __future__ import annotations

import re

import redis.asyncio as redis

from shared.redis_keys import Keys
from tests.gateway.support import MakeGateway, MakePartner, assert_error_body

RATE = re.compile(r"^limit=(\d+), remaining=(\d+), reset=(\d+)$")


def _rate(header: str) -> tuple[int, int, int]:
    match = RATE.match(header)
    assert match, header
    limit, remaining, reset = match.groups()
    return int(limit), int(remaining), int(reset)


async def test_two_gateways_enforce_one_limit(
    make_gateway: MakeGateway, make_partner: MakePartner
) -> None:
    # the second gateway has its own Redis client and pool, as a separate process would
    one, two = await make_gateway(), await make_gateway(share=False)
    partner = await make_partner(minute=3, hour=100)
    seen = []
    for client in (one.client, two.client, one.client):
        resp = await client.get("/api/v1/chargers", headers=partner.headers)
        assert resp.status == 200
        assert resp.headers["RateLimit-Policy"] == "3;w=60, 100;w=3600"
        seen.append(_rate(resp.headers["RateLimit"]))
    assert [(limit, remaining) for limit, remaining, _ in seen] == [(3, 2), (3, 1), (3, 0)]
    assert all(1 <= reset <= 60 for _, _, reset in seen)

    for client in (two.client, one.client):
        resp = await client.get("/api/v1/chargers/X/status", headers=partner.headers)
        assert resp.status == 429
        assert_error_body(await resp.json(), 429, "Too Many Requests", "/api/v1/chargers/X/status")
        retry_after = int(resp.headers["Retry-After"])
        assert 1 <= retry_after <= 60
        assert _rate(resp.headers["RateLimit"]) == (3, 0, retry_after)
        assert resp.headers["RateLimit-Policy"] == "3;w=60, 100;w=3600"

    # another partner has its own budget, and the defaults
    other = await make_partner()
    resp = await two.client.get("/api/v1/chargers", headers=other.headers)
    assert resp.status == 200
    assert resp.headers["RateLimit-Policy"] == "100;w=60, 1000;w=3600"
    assert _rate(resp.headers["RateLimit"])[:2] == (100, 99)


async def test_the_tighter_window_is_reported(
    make_gateway: MakeGateway, make_partner: MakePartner
) -> None:
    gw = await make_gateway()
    partner = await make_partner(minute=50, hour=2)
    resp = await gw.client.get("/api/v1/chargers", headers=partner.headers)
    assert _rate(resp.headers["RateLimit"])[:2] == (2, 1)
    await gw.client.get("/api/v1/chargers", headers=partner.headers)
    resp = await gw.client.get("/api/v1/chargers", headers=partner.headers)
    assert resp.status == 429
    limit, remaining, reset = _rate(resp.headers["RateLimit"])
    assert (limit, remaining) == (2, 0)
    assert 60 < reset <= 3660 and int(resp.headers["Retry-After"]) == reset


async def test_refused_requests_are_not_counted_and_old_buckets_expire(
    make_gateway: MakeGateway, make_partner: MakePartner, rds: redis.Redis, keys: Keys
) -> None:
    gw = await make_gateway()
    partner = await make_partner(minute=2, hour=10)
    for _ in range(5):
        await gw.client.get("/api/v1/chargers", headers=partner.headers)
    counters = await rds.hgetall(keys.rate(partner.id))
    assert sum(int(v) for f, v in counters.items() if f.startswith("m")) == 2
    assert sum(int(v) for f, v in counters.items() if f.startswith("h")) == 2
    assert 0 < await rds.pttl(keys.rate(partner.id)) <= 3_660_000

    # requests more than a minute old (but within the hour) free the minute window only
    hour_buckets = {f: v for f, v in counters.items() if f.startswith("h")}
    old_minute = {f"m{int(f[1:]) - 120}": v for f, v in counters.items() if f.startswith("m")}
    await rds.delete(keys.rate(partner.id))
    await rds.hset(keys.rate(partner.id), mapping={**hour_buckets, **old_minute, "h1": "99"})
    resp = await gw.client.get("/api/v1/chargers", headers=partner.headers)
    assert resp.status == 200
    assert _rate(resp.headers["RateLimit"])[:2] == (2, 1)
    counters = await rds.hgetall(keys.rate(partner.id))
    assert not (set(old_minute) | {"h1"}) & set(counters)  # aged-out buckets are deleted
    assert sum(int(v) for f, v in counters.items() if f.startswith("h")) == 3
