"""The partner-facing view of a charger, derived from its Redis hash at read time."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shared.redis_keys import F
from shared.status import PartnerStatus, charger_status, connector_status


@dataclass(slots=True)
class ConnectorView:
    connector_id: int
    status: PartnerStatus
    ocpp_status: str
    transaction_id: str | None = None


@dataclass(slots=True)
class ChargerView:
    charger_id: str
    status: PartnerStatus
    online: bool
    protocol: str | None = None
    connectors: list[ConnectorView] = field(default_factory=list)
    meter_kwh: float | None = None
    meter_timestamp: str | None = None
    status_timestamp: str | None = None
    last_seen: str | None = None


def _iso(epoch: float) -> str:
    return (
        datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def charger_view(
    charger_id: str,
    fields: Mapping[str, str],
    now: float,
    alive_nodes: Collection[str],
    grace: float,
) -> ChargerView:
    """Build the view from the charger's hash; the caller has already checked ownership."""
    seen = float(fields[F.SEEN]) if F.SEEN in fields else None
    fresh = seen is not None and now - seen <= grace
    online = fields.get(F.ONLINE) == "1" and fields.get(F.NODE) in alive_nodes and fresh
    protocol = fields.get(F.PROTOCOL)
    kwh = fields.get(F.KWH)
    view = ChargerView(
        charger_id=charger_id,
        status=PartnerStatus.UNKNOWN,
        online=online,
        protocol=protocol,
        meter_kwh=float(kwh) if kwh is not None else None,
        meter_timestamp=fields.get(F.KWH_TS),
        status_timestamp=fields.get(F.STATUS_TS),
        last_seen=_iso(seen) if seen is not None else None,
    )
    whole: PartnerStatus | None = None
    for name, raw in fields.items():
        if not name.startswith(F.RAW):
            continue
        n = int(name[len(F.RAW) :])
        status = connector_status(protocol or "", raw, fields.get(f"{F.CHARGING_STATE}{n}"))
        if n == 0:
            whole = status
            continue
        view.connectors.append(
            ConnectorView(n, status, raw, fields.get(f"{F.TRANSACTION}{n}") or None)
        )
    view.connectors.sort(key=lambda c: c.connector_id)
    if fields.get(F.REMOVED) == "1":
        view.status = PartnerStatus.REMOVED
    elif fresh:
        view.status = charger_status(whole, [c.status for c in view.connectors])
    return view
