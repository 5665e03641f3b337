"""API keys: where they may come from, what gets a 401 or a 403, and that they are never logged."""

from __future__ import annotations

import itertools
import logging
import os
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from shared import apikeys, registry
from shared.registry import KeyRecord
from tests.gateway.support import (
    ADMIN_TOKEN,
    Gateway,
    MakeGateway,
    Partner,
    admin_headers,
    assert_error_body,
)

PATH = "/api/v1/chargers"


async def _status(gw: Gateway, headers: dict[str, str]) -> tuple[int, dict[str, object]]:
    resp = await gw.client.get(PATH, headers=headers)
    return resp.status, await resp.json()


async def test_key_in_x_api_key_or_bearer(gw: Gateway, partner: Partner) -> None:
    assert (await _status(gw, {"x-api-key": partner.key}))[0] == 200
    assert (await _status(gw, {"Authorization": f"Bearer {partner.key}"}))[0] == 200
    assert (await _status(gw, {"Authorization": f"bearer {partner.key}"}))[0] == 200


def _bad_checksum(key: str) -> str:
    last = key[-1]
    return key[:-1] + ("A" if last != "A" else "B")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-api-key": ""},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"x-api-key": "hello"},
        {"Authorization": "Bearer not-a-key"},
        {"x-api-key": apikeys.generate()},  # well formed, never issued
    ],
    ids=["missing", "empty", "basic", "malformed", "malformed-bearer", "unknown"],
)
async def test_missing_malformed_and_unknown_keys_get_401(
    gw: Gateway, headers: dict[str, str]
) -> None:
    status, body = await _status(gw, headers)
    assert status == 401
    assert_error_body(body, 401, "Unauthorized", PATH)


async def test_checksum_mismatch_is_refused_without_a_lookup(
    gw: Gateway, partner: Partner, monkeypatch: pytest.MonkeyPatch
) -> None:
    lookups: list[bytes] = []
    real = registry.find_key

    async def counting(pool: asyncpg.Pool, digest: bytes) -> KeyRecord | None:
        lookups.append(digest)
        return await real(pool, digest)

    monkeypatch.setattr(registry, "find_key", counting)
    bad = _bad_checksum(partner.key)
    assert not apikeys.well_formed(bad)
    for _ in range(3):
        assert (await _status(gw, {"x-api-key": bad}))[0] == 401
    assert lookups == []
    # an unknown but well-formed key is looked up once, then its absence is cached too
    unknown = apikeys.generate()
    for _ in range(3):
        assert (await _status(gw, {"x-api-key": unknown}))[0] == 401
    assert lookups == [apikeys.digest(unknown)]


async def test_revoked_and_expired_keys_get_401(
    gw: Gateway, partner: Partner, pool: asyncpg.Pool
) -> None:
    key_id, revoked = await registry.issue_api_key(pool, partner.id)
    await pool.execute("UPDATE api_keys SET revoked_at = now() WHERE id = $1", key_id)
    status, body = await _status(gw, {"x-api-key": revoked})
    assert status == 401 and body["message"] == "API key revoked"

    past = datetime.now(UTC) - timedelta(minutes=1)
    _, expired = await registry.issue_api_key(pool, partner.id, expires_at=past)
    status, body = await _status(gw, {"x-api-key": expired})
    assert status == 401 and body["message"] == "API key expired"

    future = datetime.now(UTC) + timedelta(days=1)
    _, fresh = await registry.issue_api_key(pool, partner.id, expires_at=future)
    assert (await _status(gw, {"x-api-key": fresh}))[0] == 200


async def test_revocation_takes_effect_when_the_cache_entry_expires(
    make_gateway: MakeGateway, partner: Partner, pool: asyncpg.Pool
) -> None:
    uncached = await make_gateway(key_cache_seconds=0)
    assert (await _status(uncached, partner.headers))[0] == 200
    await pool.execute("UPDATE api_keys SET revoked_at = now() WHERE partner_id = $1", partner.id)
    assert (await _status(uncached, partner.headers))[0] == 401


async def test_suspended_partner_gets_403(
    gw: Gateway, partner: Partner, pool: asyncpg.Pool
) -> None:
    await pool.execute("UPDATE partners SET status = 'suspended' WHERE id = $1", partner.id)
    status, body = await _status(gw, partner.headers)
    assert status == 403
    assert_error_body(body, 403, "Forbidden", PATH)


async def test_access_log_names_partner_and_request_but_never_the_key(
    gw: Gateway, partner: Partner, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await gw.client.get(PATH, headers={**partner.headers, "X-Request-Id": "req-log-1"})
    await gw.client.get(PATH, headers={"Authorization": f"Bearer {partner.key}"})
    await gw.client.get(PATH, headers={"x-api-key": _bad_checksum(partner.key)})
    access = [r for r in caplog.records if r.name == "gateway.access"]
    assert len(access) == 3
    first = access[0].__dict__
    assert first["request_id"] == "req-log-1"
    assert first["partner_id"] == partner.id
    assert first["status"] == 200 and first["route"] == PATH
    assert isinstance(first["duration_ms"], float)
    assert access[2].__dict__["status"] == 401
    everything = caplog.text + "".join(repr(r.__dict__) for r in caplog.records)
    assert partner.key not in everything
    assert partner.key[:-1] not in everything


async def test_an_address_that_keeps_failing_is_throttled_before_any_lookup(
    make_gateway: MakeGateway,
    partner: Partner,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    gw = await make_gateway(trust_forwarded_for=True, auth_failures_per_minute=5)
    # the first entry is whatever the client claims; the last is what the proxy saw
    prober = {"X-Forwarded-For": f"198.51.100.7, 203.0.113.{_n()}"}
    lookups: list[bytes] = []
    real = registry.find_key

    async def counting(pool: asyncpg.Pool, digest: bytes) -> KeyRecord | None:
        lookups.append(digest)
        return await real(pool, digest)

    assert (await _status(gw, {**prober, "x-api-key": partner.key}))[0] == 200  # now cached
    monkeypatch.setattr(registry, "find_key", counting)
    with caplog.at_level(logging.WARNING, logger="gateway.auth_throttle"):
        statuses = [
            (await _status(gw, {**prober, "x-api-key": apikeys.generate()}))[0] for _ in range(8)
        ]
    assert statuses == [401] * 5 + [429] * 3
    assert len(lookups) == 5  # the refused ones cost no database lookup
    status, body = await _status(gw, {**prober, "x-api-key": apikeys.generate()})
    assert status == 429
    assert_error_body(body, 429, "Too Many Requests", PATH)
    events = [r for r in caplog.records if getattr(r, "event", None) == "auth_failures"]
    assert len(events) == 1  # one security event per burst, not one per failure
    assert events[0].address == prober["X-Forwarded-For"].rsplit(", ", 1)[1]  # type: ignore[attr-defined]
    assert partner.key not in caplog.text
    # a key the gateway knows needs no lookup: its partner, behind the same address, carries on
    assert (await _status(gw, {**prober, "x-api-key": partner.key}))[0] == 200
    # the throttle is the address's: another address, and the real partner, are served
    other = {"X-Forwarded-For": f"203.0.113.{_n()}"}
    assert (await _status(gw, {**other, "x-api-key": apikeys.generate()}))[0] == 401
    assert (await _status(gw, {**other, "x-api-key": partner.key}))[0] == 200


async def test_admin_token_guesses_are_throttled_too(make_gateway: MakeGateway) -> None:
    gw = await make_gateway(trust_forwarded_for=True, auth_failures_per_minute=3)
    guesser = {"X-Forwarded-For": f"203.0.113.{_n()}"}
    statuses = []
    for i in range(5):
        headers = {**guesser, "Authorization": f"Bearer guess-{i}"}
        statuses.append((await gw.client.get("/api/v1/admin/partners", headers=headers)).status)
    assert statuses == [401, 401, 401, 429, 429]
    right = {**guesser, **admin_headers()}
    assert (await gw.client.get("/api/v1/admin/partners", headers=right)).status == 429


async def test_the_admin_token_is_taken_only_as_a_bearer_token(gw: Gateway) -> None:
    resp = await gw.client.get("/api/v1/admin/partners", headers={"x-api-key": ADMIN_TOKEN})
    assert resp.status == 401
    assert "Authorization: Bearer" in (await resp.json())["message"]
    assert (await gw.client.get("/api/v1/admin/partners", headers=admin_headers())).status == 200


_addresses = itertools.count(1)


def _n() -> int:
    """A last octet no other test of this session uses (the counts live in the shared Redis)."""
    return next(_addresses) + 100 * (os.getpid() % 2)
