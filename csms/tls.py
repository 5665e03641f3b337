"""TLS for OCPP security profiles 2 (server certificate) and 3 (mutual TLS)."""

from __future__ import annotations

import ssl
from typing import Any

from shared.settings import Settings


def server_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context the security profile calls for; None for profile 1 (plain ws)."""
    if settings.security_profile == 1:
        return None
    if settings.tls_cert_file is None or settings.tls_key_file is None:
        raise ValueError(
            f"security profile {settings.security_profile} needs EVCS_TLS_CERT_FILE and "
            "EVCS_TLS_KEY_FILE"
        )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2  # both security whitepapers: TLS 1.2+
    context.load_cert_chain(settings.tls_cert_file, settings.tls_key_file)
    if settings.security_profile == 3:
        if settings.tls_ca_file is None:
            raise ValueError("security profile 3 needs EVCS_TLS_CA_FILE to verify chargers")
        context.load_verify_locations(cafile=settings.tls_ca_file)
        # A certificate that is sent must verify against the CA, or the TLS handshake fails.
        # One that is missing is refused at the HTTP handshake instead, with a 401 that is
        # logged as a security event like every other failed authentication.
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


def common_name(peercert: dict[str, Any] | None) -> str | None:
    """The subject CN of a verified client certificate; None if absent or not exactly one."""
    if not peercert:
        return None
    names = [
        value for rdn in peercert.get("subject", ()) for key, value in rdn if key == "commonName"
    ]
    return names[0] if len(names) == 1 else None
