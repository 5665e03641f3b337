"""OCPP connector statuses -> the 7 partner statuses, and a charger's status from its connectors.

Rule for a charger's own status (also in the README):
1. decommissioned -> REMOVED; never seen, or silent/offline past the grace period -> UNKNOWN;
2. connector 0 (OCPP 1.6: the whole charger) Unavailable or Faulted -> INOPERATIVE;
3. otherwise the first of CHARGING, AVAILABLE, RESERVED, BLOCKED, INOPERATIVE held by any
   connector: a charger is "charging" while any connector charges, else "available" while a
   car could plug in somewhere, and INOPERATIVE only when every connector is out of order.
"""

from __future__ import annotations

from enum import StrEnum


class PartnerStatus(StrEnum):
    AVAILABLE = "AVAILABLE"
    CHARGING = "CHARGING"
    BLOCKED = "BLOCKED"
    RESERVED = "RESERVED"
    INOPERATIVE = "INOPERATIVE"
    REMOVED = "REMOVED"
    UNKNOWN = "UNKNOWN"


V16_STATUS: dict[str, PartnerStatus] = {
    "Available": PartnerStatus.AVAILABLE,
    "Preparing": PartnerStatus.BLOCKED,
    "Charging": PartnerStatus.CHARGING,
    "SuspendedEVSE": PartnerStatus.CHARGING,
    "SuspendedEV": PartnerStatus.CHARGING,
    "Finishing": PartnerStatus.BLOCKED,
    "Reserved": PartnerStatus.RESERVED,
    "Unavailable": PartnerStatus.INOPERATIVE,
    "Faulted": PartnerStatus.INOPERATIVE,
}

V201_STATUS: dict[str, PartnerStatus] = {
    "Available": PartnerStatus.AVAILABLE,
    "Reserved": PartnerStatus.RESERVED,
    "Unavailable": PartnerStatus.INOPERATIVE,
    "Faulted": PartnerStatus.INOPERATIVE,
}

# OCPP 2.0.1 TransactionEvent chargingState values that mean energy transfer is under way
# or only paused; EVConnected and Idle do not.
V201_CHARGING_STATES = frozenset({"Charging", "SuspendedEV", "SuspendedEVSE"})

_PRECEDENCE = (
    PartnerStatus.CHARGING,
    PartnerStatus.AVAILABLE,
    PartnerStatus.RESERVED,
    PartnerStatus.BLOCKED,
    PartnerStatus.INOPERATIVE,
)


def connector_status(protocol: str, raw: str, charging_state: str | None = None) -> PartnerStatus:
    """Partner status of one connector (1.6) or EVSE (2.0.1) from its raw OCPP status."""
    if protocol == "ocpp1.6":
        return V16_STATUS.get(raw, PartnerStatus.UNKNOWN)
    if raw == "Occupied":
        if charging_state in V201_CHARGING_STATES:
            return PartnerStatus.CHARGING
        return PartnerStatus.BLOCKED
    return V201_STATUS.get(raw, PartnerStatus.UNKNOWN)


def charger_status(whole: PartnerStatus | None, connectors: list[PartnerStatus]) -> PartnerStatus:
    """A charger's status from connector 0 (`whole`, if reported) and its other connectors."""
    if whole is PartnerStatus.INOPERATIVE:
        return PartnerStatus.INOPERATIVE
    present = set(connectors)
    for status in _PRECEDENCE:
        if status in present:
            return status
    if whole is not None:
        return whole
    return PartnerStatus.UNKNOWN
