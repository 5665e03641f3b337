"""Certificates: their OCPP identifiers, read from X.509 by the simulator's own DER reader and
checked against the `cryptography` package's OCSP CertID; the store behind InstallCertificate,
DeleteCertificate, GetInstalledCertificateIds and CertificateSigned."""

from __future__ import annotations

import pytest

from simulators.certificates import BadCertificate, CertificateStore, hash_data, read_pem
from tests.simulators import certs


@pytest.mark.parametrize("algorithm", ["SHA256", "SHA384", "SHA512"])
@pytest.mark.parametrize("serial", [1, 0x7F, 0x80, 0xABCDEF, 2**159 - 1])
def test_hash_data_is_the_ocsp_cert_id(algorithm: str, serial: int) -> None:
    ca = certs.root()
    leaf = certs.issue("leaf", issuer=ca, serial=serial)

    chain = read_pem(leaf.pem + ca.pem)

    assert hash_data(chain[0], chain[1].public_key, algorithm) == certs.hash_data(
        leaf, ca, algorithm
    )
    assert hash_data(chain[1], chain[1].public_key, algorithm) == certs.hash_data(
        ca, None, algorithm
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not a certificate",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
        "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----",
        "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----",  # SEQUENCE { 1 }
    ],
)
def test_what_is_no_certificate_is_refused(text: str) -> None:
    with pytest.raises(BadCertificate):
        read_pem(text)


def test_install_list_and_delete() -> None:
    store = CertificateStore(max_entries=2)
    csms, mo = certs.issue("CSMS root"), certs.issue("MO root")

    assert store.install("CSMSRootCertificate", csms.pem) == "Accepted"
    assert store.install("CSMSRootCertificate", csms.pem) == "Accepted"  # again: no second copy
    assert store.install("MORootCertificate", mo.pem) == "Accepted"
    assert store.install("V2GRootCertificate", certs.issue("V2G").pem) == "Failed"  # full
    assert store.install("V2GRootCertificate", "junk") == "Rejected"

    assert store.ids(["MORootCertificate"]) == [
        {"certificateType": "MORootCertificate", "certificateHashData": certs.hash_data(mo)}
    ]
    assert [i["certificateType"] for i in store.ids(None)] == [
        "CSMSRootCertificate",
        "MORootCertificate",
    ]
    assert store.ids(["V2GRootCertificate"]) == []

    upper = {k: v.upper() if k != "hashAlgorithm" else v for k, v in certs.hash_data(csms).items()}
    assert store.delete(upper) == "Accepted"
    assert store.delete(certs.hash_data(csms)) == "NotFound"


def test_a_signed_chain_is_kept_and_the_station_s_own_certificate_not_deleted() -> None:
    store = CertificateStore()
    ca = certs.issue("Sub CA")
    first, renewed = certs.issue("CS", issuer=ca), certs.issue("CS", issuer=ca)

    assert store.signed(first.pem + ca.pem, "ChargingStationCertificate") == "Accepted"
    assert store.signed(renewed.pem + ca.pem, "ChargingStationCertificate") == "Accepted"
    assert store.signed("junk", "ChargingStationCertificate") == "Rejected"

    assert len(store.installed) == 1  # the renewed one replaced the first
    assert store.ids(None) == []  # the station's own certificate is not listed
    assert store.delete(certs.hash_data(renewed, ca)) == "Failed"


def test_the_issuer_key_of_a_held_issuer_is_used() -> None:
    store = CertificateStore()
    ca = certs.issue("Issuing CA")
    issued = certs.issue("Intermediate", issuer=ca)
    store.install("V2GRootCertificate", ca.pem)

    store.install("MORootCertificate", issued.pem)

    assert store.ids(["MORootCertificate"])[0]["certificateHashData"] == certs.hash_data(issued, ca)


def test_a_signed_certificate_must_carry_the_key_of_the_request() -> None:
    store = CertificateStore()
    mine, other = certs.issue("CS"), certs.issue("CS")
    key = read_pem(mine.pem)[0].public_key

    assert store.signed(other.pem, "ChargingStationCertificate", key) == "Rejected"
    assert store.signed(mine.pem, "ChargingStationCertificate", key) == "Accepted"
