"""The key pair and certificate signing request (CSR) a 2.0.1 station makes when the central
system has it renew a certificate (TriggerMessage SignChargingStationCertificate, A02/A03). The
CSR names the station's id as its common name, as a central system requires. No I/O here."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SigningRequest:
    csr: str  # PEM
    public_key: bytes  # the subjectPublicKey bits the signed certificate must carry


def available() -> bool:
    """Whether this installation can make key pairs (the `cryptography` package is there)."""
    return importlib.util.find_spec("cryptography") is not None


def make_request(common_name: str, organization: str) -> SigningRequest:
    """A CSR for a fresh P-256 key pair. The private key is dropped: the simulator never uses
    the certificate it gets (no TLS client authentication), it only checks it is for this key."""
    # Imported here: only a station asked to renew a certificate needs it.
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        ]
    )
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return SigningRequest(csr.public_bytes(serialization.Encoding.PEM).decode(), point)
