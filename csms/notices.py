"""What chargers report for their operator: firmware, diagnostics and log upload progress,
security events, and (2.0.1) NotifyEvent and NotifyReport. Each is answered at once and put on
the event stream as a `report` event, which the recorder stores for the admin API; security
events are logged as well, as they need attention even where nobody reads the API.

None changes the state a partner reads, so none costs a write to the charger's hash.
"""

from __future__ import annotations

import logging
from typing import Any

from csms.session import Context, Handler, Outcome
from shared import events as ev

log = logging.getLogger("csms.charger")


def reported(action: str) -> Handler:
    """A report answered with an empty CALLRESULT and recorded as it came."""

    def handle(ctx: Context, p: dict[str, Any]) -> Outcome:
        return Outcome({}, events=[ev.report(ctx.session.charger_id, ctx.now, action, p)])

    return handle


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
    event = ev.report(ctx.session.charger_id, ctx.now, "SecurityEventNotification", p)
    return Outcome({}, events=[event])


def sign_certificate(ctx: Context, p: dict[str, Any]) -> Outcome:
    """SignCertificate: this central system holds no certificate authority, so it declines
    (the spec's answer when it cannot sign); the charger keeps its current certificate."""
    log.info(
        "charger asked for a certificate; no signing authority configured",
        extra={"charger_id": ctx.session.charger_id, "certificate_type": p.get("certificateType")},
    )
    return Outcome({"status": "Rejected"})
