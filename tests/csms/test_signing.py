"""SignCertificate with a signing CA configured: the charger's own CSR is signed and
CertificateSigned follows the answer, on a real socket with every frame schema-checked; a CSR
for another name, a broken one or a V2G certificate is Rejected and nothing follows. Without a
CA every request is Rejected."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from csms import signing
from csms.server import CsmsApp
from shared.settings import Settings
from tests.csms.certs import Authority
from tests.csms.conftest import StartCsms, open_booted


def _csr(common_name: str) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture
def ca(tmp_path: Path) -> Authority:
    authority = Authority(tmp_path, "evcs-signing")
    (tmp_path / "ca-key.pem").write_bytes(
        authority.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return authority


@pytest.fixture
async def signing_csms(start_csms: StartCsms, ca: Authority) -> AsyncIterator[CsmsApp]:
    yield await start_csms(
        node_id="signer",
        csms_ca_cert_file=ca.cert_file,
        csms_ca_key_file=ca.folder / "ca-key.pem",
    )


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1"])
async def test_the_chargers_own_csr_is_signed_and_sent_back(
    signing_csms: CsmsApp, ca: Authority, uid: str, protocol: str
) -> None:
    cp = f"SIGN-{protocol[-3:]}-{uid}"
    raw = await open_booted(signing_csms, cp, protocol)
    request = {"csr": _csr(cp)}
    if protocol == "ocpp2.0.1":
        request["certificateType"] = "ChargingStationCertificate"
    assert (await raw.call("SignCertificate", request))[2] == {"status": "Accepted"}
    call = await raw.recv_call()  # schema-checked
    assert call[2] == "CertificateSigned"
    chain = x509.load_pem_x509_certificates(call[3]["certificateChain"].encode())
    leaf, issuer = chain
    assert issuer == ca.cert
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == cp
    leaf.verify_directly_issued_by(ca.cert)
    await raw.answer(call[1], {"status": "Accepted"})
    await raw.ws.close()


@pytest.mark.parametrize(
    ("csr", "kind"),
    [
        (lambda cp: _csr(f"NOT-{cp}"), "ChargingStationCertificate"),
        (
            lambda cp: (
                "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----"
            ),
            "ChargingStationCertificate",
        ),
        (_csr, "V2GCertificate"),
    ],
)
async def test_anything_but_the_chargers_own_csr_is_rejected_and_nothing_follows(
    signing_csms: CsmsApp, uid: str, csr: object, kind: str
) -> None:
    cp = f"NOSIGN-{uid}"
    raw = await open_booted(signing_csms, cp, "ocpp2.0.1")
    request = {"csr": csr(cp), "certificateType": kind}  # type: ignore[operator]
    assert (await raw.call("SignCertificate", request))[2] == {"status": "Rejected"}
    # the next frame is the answer to our next call, not a CertificateSigned
    [kind_, _, answer] = await raw.call("Heartbeat", {})
    assert kind_ == 3 and "currentTime" in answer
    await raw.ws.close()


async def test_without_a_ca_every_csr_is_rejected(csms: CsmsApp, uid: str) -> None:
    cp = f"NOCA-{uid}"
    raw = await open_booted(csms, cp, "ocpp2.0.1")
    assert (await raw.call("SignCertificate", {"csr": _csr(cp)}))[2] == {"status": "Rejected"}
    await raw.ws.close()


def test_the_signing_settings_come_in_pairs(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="go together"):
        Settings(csms_ca_cert_file=tmp_path / "ca.pem")


def test_a_signed_certificate_lasts_the_configured_days(ca: Authority) -> None:
    authority = signing.Authority.load(ca.cert_file, ca.folder / "ca-key.pem", days=30)
    csr = signing.check(_csr("CP-9"), "CP-9")
    now = x509.load_pem_x509_certificate(ca.cert_file.read_bytes()).not_valid_before_utc
    [leaf, _] = x509.load_pem_x509_certificates(signing.sign(authority, csr, now).encode())
    assert (leaf.not_valid_after_utc - now).days == 30
    with pytest.raises(signing.Unsignable, match="common name"):
        signing.check(_csr("CP-9"), "CP-10")
