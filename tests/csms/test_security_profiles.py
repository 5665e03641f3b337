"""OCPP security profiles with real certificates made in the test: 2 (TLS server certificate
+ Basic auth) and 3 (mutual TLS, the charger id from the certificate's CN). Every failure is
a 401 (or a failed TLS handshake) that is logged and reveals nothing about the charger."""

from __future__ import annotations

import base64
import logging
import ssl
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as redis
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake, InvalidStatus

from csms.server import CsmsApp
from shared import registry
from shared.redis_keys import Keys
from shared.settings import Settings
from tests.csms.certs import Authority, Issued
from tests.csms.conftest import StartCsms

PASSWORD = "a-charger-password-of-32-chars!!"


@pytest.fixture
def pki(tmp_path: Path) -> tuple[Authority, Issued]:
    ca = Authority(tmp_path, "evcs-test")
    return ca, ca.issue("127.0.0.1", server=True)


def _client_tls(ca: Authority, cert: Issued | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca.cert_file)
    if cert is not None:
        context.load_cert_chain(cert.cert, cert.key)
    return context


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def _status(url: str, **kwargs: object) -> int:
    try:
        async with connect(url, subprotocols=["ocpp2.0.1"], **kwargs) as ws:  # type: ignore[arg-type, list-item]
            await ws.send('[2, "1", "Heartbeat", {}]')
            assert (await ws.recv()).startswith('[3,"1"')
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


async def test_profile_2_tls_and_basic_auth(
    start_csms: StartCsms,
    pki: tuple[Authority, Issued],
    pool: asyncpg.Pool,
    rds: redis.Redis,
    keys: Keys,
    uid: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ca, server = pki
    app = await start_csms(
        node_id=f"sp2-{uid}",
        security_profile=2,
        charger_auth=True,
        tls_cert_file=server.cert,
        tls_key_file=server.key,
    )
    assert app.url.startswith("wss://")
    cp = f"SP2-{uid}"
    await registry.register_charger(pool, rds, keys, cp, password=PASSWORD)
    tls = _client_tls(ca)
    url = f"{app.url}/{cp}"
    assert await _status(url, ssl=tls, additional_headers=_basic(cp, PASSWORD)) == 101
    with caplog.at_level(logging.WARNING, logger="csms.server"):
        assert await _status(url, ssl=tls, additional_headers=_basic(cp, "wrong")) == 401
        assert await _status(url, ssl=tls) == 401
        unknown = f"{app.url}/NOBODY-{uid}"
        assert (
            await _status(unknown, ssl=tls, additional_headers=_basic(f"NOBODY-{uid}", PASSWORD))
            == 401
        )
    failures = [r for r in caplog.records if r.getMessage() == "charger authentication failed"]
    assert len(failures) == 3
    assert {r.security_event for r in failures} == {"InvalidChargingStationCredentials"}  # type: ignore[attr-defined]
    assert all(PASSWORD not in r.getMessage() and "wrong" not in str(r.__dict__) for r in failures)
    # no TLS, or a server the charger cannot verify: no connection at all
    with pytest.raises((InvalidHandshake, OSError)):
        await _status(
            f"ws://127.0.0.1:{app.port}/ocpp/{cp}", additional_headers=_basic(cp, PASSWORD)
        )
    with pytest.raises(ssl.SSLError):
        await _status(
            url, ssl=ssl.create_default_context(), additional_headers=_basic(cp, PASSWORD)
        )


async def test_profile_3_mutual_tls_takes_the_charger_id_from_the_certificate(
    start_csms: StartCsms,
    pki: tuple[Authority, Issued],
    pool: asyncpg.Pool,
    rds: redis.Redis,
    keys: Keys,
    uid: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ca, server = pki
    app = await start_csms(
        node_id=f"sp3-{uid}",
        security_profile=3,
        charger_auth=True,
        tls_cert_file=server.cert,
        tls_key_file=server.key,
        tls_ca_file=ca.cert_file,
    )
    cp, other = f"SP3-{uid}", f"SP3B-{uid}"
    for charger_id in (cp, other):
        await registry.register_charger(pool, rds, keys, charger_id)
    mine = ca.issue(cp)
    url = f"{app.url}/{cp}"
    # no password needed: the certificate is the credential
    assert await _status(url, ssl=_client_tls(ca, mine)) == 101
    with caplog.at_level(logging.WARNING, logger="csms.server"):
        # no client certificate
        assert (
            await _status(url, ssl=_client_tls(ca), additional_headers=_basic(cp, PASSWORD)) == 401
        )
        # a valid certificate of another charger
        assert await _status(f"{app.url}/{other}", ssl=_client_tls(ca, mine)) == 401
        # a valid certificate of a charger nobody registered
        stranger = f"SP3X-{uid}"
        assert (
            await _status(f"{app.url}/{stranger}", ssl=_client_tls(ca, ca.issue(stranger))) == 401
        )
    failures = [r for r in caplog.records if r.getMessage() == "charger authentication failed"]
    assert len(failures) == 3
    assert {r.security_event for r in failures} == {"InvalidChargingStationCertificate"}  # type: ignore[attr-defined]
    # a certificate from another authority fails the TLS handshake itself
    rogue = Authority(tmp_path, "rogue").issue(cp)
    with pytest.raises((ssl.SSLError, InvalidHandshake, OSError)):
        await _status(url, ssl=_client_tls(ca, rogue))


@pytest.mark.parametrize(
    ("profile", "missing"),
    [(2, "tls_cert_file"), (2, "tls_key_file"), (3, "tls_ca_file")],
)
async def test_a_profile_without_its_certificates_does_not_start(
    settings: Settings, pki: tuple[Authority, Issued], profile: int, missing: str
) -> None:
    ca, server = pki
    files = {"tls_cert_file": server.cert, "tls_key_file": server.key, "tls_ca_file": ca.cert_file}
    files[missing] = None  # type: ignore[assignment]
    app = CsmsApp(
        settings.model_copy(update={"csms_port": 0, "security_profile": profile, **files})
    )
    with pytest.raises(ValueError, match=missing.upper()[:12]):
        await app.start()
    assert app.redis is None  # nothing was opened
