"""Real X.509 certificates for the simulator tests, and their OCPP identifiers computed by an
independent implementation (the `cryptography` package's OCSP request builder)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from functools import cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def issue(common_name: str, issuer: Issued | None = None, serial: int | None = None) -> Issued:
    """A certificate for `common_name`, self-signed unless an issuer is given."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name) if issuer is None else issuer.cert.subject)
        .public_key(key.public_key())
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    signer = key if issuer is None else issuer.key
    return Issued(builder.sign(signer, hashes.SHA256()), key)


def sign_csr(csr_pem: str, issuer: Issued) -> Issued:
    """The certificate a central system's CA makes of a CSR (the key stays the requester's:
    the returned key is the issuer's, only there to fill the field)."""
    csr = x509.load_pem_x509_csr(csr_pem.encode())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(issuer.cert.subject)
        .public_key(csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(issuer.key, hashes.SHA256())
    )
    return Issued(cert, issuer.key)


@cache
def root(common_name: str = "Test Root") -> Issued:
    return issue(common_name)


def hash_data(
    cert: Issued, issuer: Issued | None = None, algorithm: str = "SHA256"
) -> dict[str, Any]:
    """The CertificateHashDataType of `cert` as an OCSP CertID (RFC 6960)."""
    digest = {"SHA256": hashes.SHA256(), "SHA384": hashes.SHA384(), "SHA512": hashes.SHA512()}
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(cert.cert, (issuer or cert).cert, digest[algorithm])
        .build()
    )
    return {
        "hashAlgorithm": algorithm,
        "issuerNameHash": request.issuer_name_hash.hex(),
        "issuerKeyHash": request.issuer_key_hash.hex(),
        "serialNumber": format(request.serial_number, "x"),
    }
