"""Signing chargers' certificates (SignCertificate, OCPP 2.0.1 A02/A03 and the 1.6 security
extension): with a CA configured, a CSR whose CN is the charger's id is signed and the
certificate is sent to the charger in CertificateSigned; anything else is Rejected.

Checking and signing are plain functions; the handler only decides the answer and the CALL
that follows it. Signing one certificate takes about a millisecond, and chargers ask rarely
(once a year, or after a reset of their keys), so it runs on the node's loop.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from csms.session import Context, Handler, Outcome

log = logging.getLogger("csms.charger")

# Only the charger's own certificate is ours to sign; V2G (ISO 15118) ones come from a V2G PKI.
SIGNED_TYPES = frozenset({"ChargingStationCertificate"})


class Unsignable(ValueError):
    """The CSR cannot be signed; the message says why (for the log, never the charger)."""


@dataclass(frozen=True)
class Authority:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    days: int = 365

    @classmethod
    def load(cls, cert_file: Path, key_file: Path, days: int = 365) -> Authority:
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise ValueError("the CA key must be an EC or RSA private key")
        return cls(cert, key, days)


def check(csr_pem: str, charger_id: str) -> x509.CertificateSigningRequest:
    """The CSR, if it is well formed, self-consistent and names this charger as its CN."""
    try:
        csr = x509.load_pem_x509_csr(csr_pem.encode())
    except ValueError as exc:
        raise Unsignable(f"not a PEM certificate signing request: {exc}") from None
    try:
        valid = csr.is_signature_valid
    except (InvalidSignature, ValueError):
        valid = False
    if not valid:
        raise Unsignable("the CSR's signature does not match its key")
    names = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if [n.value for n in names] != [charger_id]:
        raise Unsignable("the CSR's common name is not the charger's id")
    return csr


def sign(ca: Authority, csr: x509.CertificateSigningRequest, now: datetime.datetime) -> str:
    """The charger's certificate, then the CA's, as one PEM chain."""
    cert = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(ca.cert.subject)
        .public_key(csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=ca.days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    return (cert.public_bytes(pem) + ca.cert.public_bytes(pem)).decode()


def sign_certificate(ca: Authority) -> Handler:
    """SignCertificate answered Accepted, with CertificateSigned to follow, when the CSR is
    this charger's; Rejected otherwise."""

    def handle(ctx: Context, p: dict[str, Any]) -> Outcome:
        charger_id = ctx.session.charger_id
        kind = p.get("certificateType", "ChargingStationCertificate")
        try:
            if kind not in SIGNED_TYPES:
                raise Unsignable(f"{kind} is not signed by this central system")
            csr = check(p["csr"], charger_id)
        except Unsignable as exc:
            log.warning(
                "certificate signing refused", extra={"charger_id": charger_id, "why": str(exc)}
            )
            return Outcome({"status": "Rejected"})
        now = datetime.datetime.fromtimestamp(ctx.now, datetime.UTC)
        signed: dict[str, Any] = {"certificateChain": sign(ca, csr, now)}
        if "certificateType" in p:
            signed["certificateType"] = kind
        log.info("certificate signed", extra={"charger_id": charger_id})
        return Outcome({"status": "Accepted"}, then=("CertificateSigned", signed))

    return handle
