"""Handshake: path, subprotocol and, in strict mode, HTTP Basic auth before the upgrade."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import orjson
import pytest
import redis.asyncio as redis
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from csms.server import CsmsApp
from evcs.chaos.proxy import LinkProxy
from shared import registry
from shared.passwords import hash_password
from shared.redis_keys import F, Keys
from shared.settings import Settings


@pytest.fixture
async def strict(settings: Settings) -> AsyncIterator[CsmsApp]:
    app = CsmsApp(
        settings.model_copy(
            update={
                "csms_port": 0,
                "node_id": "strict",
                "charger_auth": True,
                "boot_unknown": "Rejected",
            }
        )
    )
    await app.start()
    yield app
    await app.stop()


def _basic(user: bytes, password: bytes) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(user + b":" + password).decode()}


async def _status(
    url: str, protocols: list[str] | None = None, headers: dict[str, str] | None = None
) -> int:
    try:
        async with connect(
            url, subprotocols=protocols or ["ocpp1.6"], additional_headers=headers
        ) as ws:  # type: ignore[arg-type]
            assert ws.subprotocol in ("ocpp1.6", "ocpp2.0.1")
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


async def test_registered_charger_with_its_password_connects(
    strict: CsmsApp, pool: asyncpg.Pool, rds: redis.Redis, keys: Keys, uid: str
) -> None:
    cp = f"AUTH-{uid}"
    await registry.register_charger(pool, rds, keys, cp, password="s3cret-password-123")
    assert (
        await _status(f"{strict.url}/{cp}", headers=_basic(cp.encode(), b"s3cret-password-123"))
        == 101
    )


async def test_wrong_password_unknown_charger_and_no_credentials_look_the_same(
    strict: CsmsApp, pool: asyncpg.Pool, rds: redis.Redis, keys: Keys, uid: str
) -> None:
    cp = f"AUTH2-{uid}"
    await registry.register_charger(pool, rds, keys, cp, password="right-password-1234")
    assert await _status(f"{strict.url}/{cp}", headers=_basic(cp.encode(), b"wrong")) == 401
    assert (
        await _status(f"{strict.url}/NOPE-{uid}", headers=_basic(f"NOPE-{uid}".encode(), b"x"))
        == 401
    )
    assert await _status(f"{strict.url}/{cp}") == 401
    # the username must be the charger id in the URL
    assert (
        await _status(f"{strict.url}/{cp}", headers=_basic(b"other", b"right-password-1234")) == 401
    )


async def test_raw_byte_authorization_key_of_ocpp16(
    strict: CsmsApp, pool: asyncpg.Pool, rds: redis.Redis, keys: Keys, uid: str
) -> None:
    cp = f"RAW-{uid}"
    key = bytes(range(200, 220))  # 20 raw bytes, not UTF-8
    await registry.register_charger(pool, rds, keys, cp)
    await rds.hset(keys.charger(cp), F.PASSWORD, hash_password(key))
    assert await _status(f"{strict.url}/{cp}", headers=_basic(cp.encode(), key)) == 101


async def test_no_supported_subprotocol_is_refused(csms: CsmsApp, uid: str) -> None:
    assert await _status(f"{csms.url}/SP-{uid}", protocols=["ocpp1.5"]) == 400


@pytest.mark.parametrize(
    "path", ["/ocpp/", "/other/CP1", "/ocpp/a%2Fb", "/ocpp/" + "x" * 49, "/ocpp/a/b"]
)
async def test_bad_paths_are_refused(csms: CsmsApp, path: str) -> None:
    assert await _status(f"ws://127.0.0.1:{csms.port}{path}") == 404


async def test_a_charger_offering_both_versions_gets_the_newer(csms: CsmsApp, uid: str) -> None:
    async with connect(
        f"{csms.url}/BOTH-{uid}",
        subprotocols=["ocpp1.6", "ocpp2.0.1"],  # type: ignore[list-item]
    ) as ws:
        assert ws.subprotocol == "ocpp2.0.1"


async def test_each_connection_s_life_is_one_info_line_per_event_without_secrets(
    strict: CsmsApp,
    pool: asyncpg.Pool,
    rds: redis.Redis,
    keys: Keys,
    uid: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cp, password = f"LIFE-{uid}", "life-password-98765"
    await registry.register_charger(pool, rds, keys, cp, password=password)
    with caplog.at_level(logging.INFO, logger="csms"):
        assert await _status(f"{strict.url}/{cp}", headers=_basic(cp.encode(), b"wrong")) == 401
        async with connect(
            f"{strict.url}/{cp}",
            subprotocols=["ocpp1.6"],  # type: ignore[list-item]
            additional_headers=_basic(cp.encode(), password.encode()),
        ) as ws:
            boot = {"chargePointVendor": "ACME", "chargePointModel": "X"}
            await ws.send(orjson.dumps([2, "1", "BootNotification", boot]).decode())
            await ws.recv()

        def lines() -> list[str]:
            return [
                r.getMessage()
                for r in caplog.records
                if r.levelno == logging.INFO and getattr(r, "charger_id", "") == cp
            ]

        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while "charger disconnected" not in lines():  # logged once the node has let go
            assert loop.time() < deadline, lines()
            await asyncio.sleep(0.02)
    assert lines() == ["charger connected", "charger booted", "charger disconnected"]
    refused = [r for r in caplog.records if r.getMessage() == "charger refused"]
    assert refused and refused[-1].reason == "auth"  # type: ignore[attr-defined]
    assert password not in caplog.text


async def test_handshake_answers_503_while_redis_is_unreachable(
    settings: Settings, uid: str
) -> None:
    """A charger told 503 + Retry-After retries; a 500 would read as a csms bug."""
    url = urlsplit(settings.redis_url)
    proxy = LinkProxy(url.hostname or "127.0.0.1", url.port or 6379)
    await proxy.start()
    proxied = urlunsplit(url._replace(netloc=f"127.0.0.1:{proxy.port}"))
    app = CsmsApp(
        settings.model_copy(update={"csms_port": 0, "node_id": f"cut-{uid}", "redis_url": proxied})
    )
    await app.start()
    try:
        proxy.cut("reset")
        with pytest.raises(InvalidStatus) as refused:
            async with connect(f"{app.url}/CUT-{uid}", subprotocols=["ocpp1.6"]):  # type: ignore[list-item]
                pass
        assert refused.value.response.status_code == 503
        assert refused.value.response.headers["Retry-After"] == "5"
        proxy.restore()
        assert await _status(f"{app.url}/CUT-{uid}") == 101
    finally:
        proxy.restore()
        await app.stop()
        await proxy.stop()
