"""Charger notifications an operator needs to see: logged as JSON lines, answered at once.

They change no state a partner reads, so they cost no Redis write.
"""

from __future__ import annotations

import logging
from typing import Any

from csms.session import Context, Handler, Outcome

log = logging.getLogger("csms.charger")


def security_event(ctx: Context, p: dict[str, Any]) -> Outcome:
    """SecurityEventNotification (1.6 security extension and 2.0.1): same payload in both."""
    log.warning(
        "charger security event",
        extra={
            "charger_id": ctx.session.charger_id,
            "security_event": p["type"],
            "tech_info": p.get("techInfo"),
            "event_ts": p["timestamp"],
        },
    )
    return Outcome({})


def status_report(action: str) -> Handler:
    """Firmware, diagnostics and log upload progress: each carries `status`, some a requestId."""

    def handle(ctx: Context, p: dict[str, Any]) -> Outcome:
        log.info(
            action,
            extra={
                "charger_id": ctx.session.charger_id,
                "status": p["status"],
                "request_id": p.get("requestId"),
            },
        )
        return Outcome({})

    return handle


def sign_certificate(ctx: Context, p: dict[str, Any]) -> Outcome:
    """SignCertificate: this central system holds no certificate authority, so it declines
    (the spec's answer when it cannot sign); the charger keeps its current certificate."""
    log.info(
        "charger asked for a certificate; no signing authority configured",
        extra={"charger_id": ctx.session.charger_id, "certificate_type": p.get("certificateType")},
    )
    return Outcome({"status": "Rejected"})
