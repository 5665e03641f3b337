"""The certificates a 2.0.1 station holds (InstallCertificate, CertificateSigned) and their
identifiers as OCPP gives them: the OCSP CertID hashes (RFC 6960) of issuer name and key, and
the serial number. Certificates are read with a minimal DER reader, as a station needs no more
of X.509 than these fields to find one again. No I/O here."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from shared.framing import Payload

_PEM = re.compile(
    r"-----BEGIN CERTIFICATE-----\s*(?P<body>[A-Za-z0-9+/=\s]+?)\s*-----END CERTIFICATE-----"
)
_HASHES = {"SHA256": hashlib.sha256, "SHA384": hashlib.sha384, "SHA512": hashlib.sha512}
_SEQUENCE, _INTEGER, _BIT_STRING, _EXPLICIT_0 = 0x30, 0x02, 0x03, 0xA0
# The use of a certificate the station holds but does not list in GetInstalledCertificateIds.
STATION_CERTIFICATE = "ChargingStationCertificate"
V2G_CERTIFICATE = "V2GCertificate"
V2G_CHAIN = "V2GCertificateChain"


class BadCertificate(ValueError):
    """Not a PEM-encoded X.509 certificate."""


@dataclass(frozen=True, slots=True)
class Certificate:
    issuer: bytes  # the DER of the issuer Name
    subject: bytes  # the DER of the subject Name
    public_key: bytes  # the subjectPublicKey bits
    serial: int


def _element(data: bytes, at: int) -> tuple[int, int, int]:
    """The tag, content start and content end of the DER element at `at`."""
    if at + 2 > len(data):
        raise BadCertificate("truncated DER")
    tag, length = data[at], data[at + 1]
    start = at + 2
    if length & 0x80:
        size = length & 0x7F
        if size == 0 or size > 4 or start + size > len(data):
            raise BadCertificate("bad DER length")
        length = int.from_bytes(data[start : start + size], "big")
        start += size
    end = start + length
    if end > len(data):
        raise BadCertificate("truncated DER")
    return tag, start, end


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """(tag, element start, content start, content end) of each element in data[start:end]."""
    out = []
    at = start
    while at < end:
        tag, content, stop = _element(data, at)
        out.append((tag, at, content, stop))
        at = stop
    return out


def read_der(der: bytes) -> Certificate:
    """The fields of an X.509 certificate (RFC 5280) that identify it."""
    tag, start, end = _element(der, 0)
    if tag != _SEQUENCE:
        raise BadCertificate("not a certificate")
    tbs_tag, _, tbs_start, tbs_end = _children(der, start, end)[0]
    if tbs_tag != _SEQUENCE:
        raise BadCertificate("not a certificate")
    fields = _children(der, tbs_start, tbs_end)
    if fields and fields[0][0] == _EXPLICIT_0:
        fields = fields[1:]  # the version
    if len(fields) < 6:
        raise BadCertificate("too few certificate fields")
    serial, _algorithm, issuer, _validity, subject, key_info = fields[:6]
    if serial[0] != _INTEGER or issuer[0] != _SEQUENCE or subject[0] != _SEQUENCE:
        raise BadCertificate("not a certificate")
    key_parts = _children(der, key_info[2], key_info[3])
    if len(key_parts) != 2 or key_parts[1][0] != _BIT_STRING:
        raise BadCertificate("no public key")
    _, _, bits_start, bits_end = key_parts[1]
    return Certificate(
        issuer=der[issuer[1] : issuer[3]],
        subject=der[subject[1] : subject[3]],
        # The BIT STRING's first content byte counts unused bits; the key is what follows.
        public_key=der[bits_start + 1 : bits_end],
        serial=int.from_bytes(der[serial[2] : serial[3]], "big", signed=True),
    )


def read_pem(text: str) -> list[Certificate]:
    """Every certificate in a PEM text (a chain lists the leaf first); BadCertificate if none
    or any is unreadable."""
    found = []
    for match in _PEM.finditer(text):
        try:
            der = base64.b64decode("".join(match["body"].split()), validate=True)
        except binascii.Error as exc:
            raise BadCertificate("bad base64") from exc
        found.append(read_der(der))
    if not found:
        raise BadCertificate("no PEM certificate")
    return found


def hash_data(cert: Certificate, issuer_key: bytes, algorithm: str = "SHA256") -> Payload:
    """The CertificateHashDataType of a certificate whose issuer has `issuer_key`."""
    digest = _HASHES[algorithm]
    return {
        "hashAlgorithm": algorithm,
        "issuerNameHash": digest(cert.issuer).hexdigest(),
        "issuerKeyHash": digest(issuer_key).hexdigest(),
        "serialNumber": format(cert.serial, "x"),  # hex without leading zeroes, as OCPP asks
    }


@dataclass(frozen=True, slots=True)
class Installed:
    use: str  # certificateType
    chain: tuple[Certificate, ...]  # the certificate first, then its issuers


class CertificateStore:
    def __init__(self, max_entries: int = 20) -> None:
        self.max_entries = max_entries
        self.installed: list[Installed] = []

    def install(self, use: str, pem: str) -> str:
        """InstallCertificate: Accepted, Rejected (unreadable) or Failed (store full)."""
        try:
            chain = tuple(read_pem(pem)[:1])
        except BadCertificate:
            return "Rejected"
        return self._add(Installed(use, chain))

    def signed(self, pem: str, use: str, key: bytes | None = None) -> str:
        """CertificateSigned: keep the signed chain; Rejected if unreadable, or if it is not
        for `key`, the public key of the signing request the station sent for this use."""
        try:
            chain = tuple(read_pem(pem))
        except BadCertificate:
            return "Rejected"
        if key is not None and chain[0].public_key != key:
            return "Rejected"
        # A newly signed certificate replaces the one it renews.
        self.installed = [i for i in self.installed if i.use != use]
        return self._add(Installed(use, chain))

    def _add(self, entry: Installed) -> str:
        same = [i for i in self.installed if i.use == entry.use and i.chain[0] == entry.chain[0]]
        if not same and len(self.installed) >= self.max_entries:
            return "Failed"
        self.installed = [i for i in self.installed if i not in same] + [entry]
        return "Accepted"

    def delete(self, wanted: Payload) -> str:
        """DeleteCertificate: Accepted, NotFound, or Failed for the station's own certificate,
        which it cannot do without."""
        algorithm = wanted["hashAlgorithm"]
        for entry in self.installed:
            if _same(self._hash(entry, 0, algorithm), wanted):
                if entry.use == STATION_CERTIFICATE:
                    return "Failed"
                self.installed.remove(entry)
                return "Accepted"
        return "NotFound"

    def ids(self, uses: list[str] | None) -> list[Payload]:
        """The certificateHashDataChain of GetInstalledCertificateIds for these uses."""
        out = []
        for entry in self.installed:
            use = V2G_CHAIN if entry.use == V2G_CERTIFICATE else entry.use
            if use == STATION_CERTIFICATE or (uses is not None and use not in uses):
                continue
            item: Payload = {"certificateType": use, "certificateHashData": self._hash(entry, 0)}
            children = [self._hash(entry, i) for i in range(1, min(len(entry.chain), 5))]
            if children:
                item["childCertificateHashData"] = children
            out.append(item)
        return out

    def _hash(self, entry: Installed, index: int, algorithm: str = "SHA256") -> Payload:
        cert = entry.chain[index]
        return hash_data(cert, self._issuer_key(entry, index), algorithm)

    def _issuer_key(self, entry: Installed, index: int) -> bytes:
        """The issuer's key: the next certificate of the chain, else a held certificate whose
        subject is the issuer, else the certificate's own (a self-signed root's)."""
        cert = entry.chain[index]
        if index + 1 < len(entry.chain):
            return entry.chain[index + 1].public_key
        for other in self.installed:
            for held in other.chain:
                if held.subject == cert.issuer and held != cert:
                    return held.public_key
        return cert.public_key


def _same(ours: Payload, theirs: Payload) -> bool:
    """Whether two CertificateHashDataType name one certificate (hex compares in any case; a
    serial number with leading zeroes is the same number)."""
    fields = ("issuerNameHash", "issuerKeyHash", "serialNumber")
    return all(
        str(ours[f]).lower().lstrip("0") == str(theirs[f]).lower().lstrip("0") for f in fields
    )
