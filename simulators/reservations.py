"""Reservations of a connector (1.6) or EVSE (2.0.1) for one identifier until an expiry date.
No I/O here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Reservation:
    id: int
    connector: int
    id_tag: str
    expires_at: float  # epoch seconds


def reserve_answer(status: str | None, operative: bool, busy: bool) -> str:
    """The answer to a ReserveNow for a connector in `status` (None: no such connector)."""
    if status is None:
        return "Rejected"
    if status == "Faulted":
        return "Faulted"
    if not operative or status == "Unavailable":
        return "Unavailable"
    # Reserved for someone else, or in use (Preparing, Charging, Occupied, ...).
    if busy or status != "Available":
        return "Occupied"
    return "Accepted"
