"""What a charger may claim beyond what the OCPP schemas check: connector and EVSE ids within
a sane range (each one becomes fields of the charger's state, so an unbounded id is unbounded
state), and energy readings a meter can give. Pure functions."""

from __future__ import annotations

from typing import Any

# Highest energy register reading taken as real: 10 GWh is decades of a fast charger's output.
MAX_REGISTER_WH = 1e10


def sane_wh(value: object) -> float | None:
    """An energy register reading (Wh) a partner may be shown, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if 0 <= value <= MAX_REGISTER_WH else None


# Where each action names connectors or EVSEs: (path of keys, lowest allowed id).
_IDS: dict[str, dict[str, tuple[tuple[tuple[str, ...], int], ...]]] = {
    "ocpp1.6": {
        "StatusNotification": ((("connectorId",), 0),),
        "MeterValues": ((("connectorId",), 0),),
        "StartTransaction": ((("connectorId",), 1),),
    },
    "ocpp2.0.1": {
        "StatusNotification": ((("evseId",), 0), (("connectorId",), 0)),
        "MeterValues": ((("evseId",), 0),),
        "TransactionEvent": ((("evse", "id"), 0), (("evse", "connectorId"), 0)),
    },
}


def id_out_of_range(
    protocol: str, action: str, payload: dict[str, Any], highest: int
) -> str | None:
    """Why a connector or EVSE id of the payload is refused, or None when all are in range."""
    for path, lowest in _IDS.get(protocol, {}).get(action, ()):
        value: Any = payload
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        # JSON's 1.0 or 1e23 is a float the schema's "integer" takes: no id either way
        if isinstance(value, float) or (isinstance(value, int) and not lowest <= value <= highest):
            return f"{'.'.join(path)} {value} is out of range ({lowest} to {highest})"
    return None
