"""Simulated OCPP 1.6J and 2.0.1 chargers for `evcs dev`, end-to-end tests and load runs."""

from simulators.charger import (
    BootRejected,
    CallError,
    ConnectionRejected,
    NotConnected,
    SimCharger,
    Transaction,
)
from simulators.v16 import SimCharger16
from simulators.v201 import SimCharger201

CHARGER_CLASSES: dict[str, type[SimCharger]] = {
    SimCharger16.PROTOCOL: SimCharger16,
    SimCharger201.PROTOCOL: SimCharger201,
}

__all__ = [
    "CHARGER_CLASSES",
    "BootRejected",
    "CallError",
    "ConnectionRejected",
    "NotConnected",
    "SimCharger",
    "SimCharger16",
    "SimCharger201",
    "Transaction",
]
