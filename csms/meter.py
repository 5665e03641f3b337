"""Reading OCPP sampled values: measurands, units, and the energy register in kWh."""

from __future__ import annotations

import math
from typing import Any

from csms.limits import sane_wh
from shared import events

ENERGY = "Energy.Active.Import.Register"
_TO_BASE = {
    "Wh": 1.0,
    "kWh": 1000.0,
    "W": 1.0,
    "kW": 1000.0,
    "varh": 1.0,
    "kvarh": 1000.0,
    "var": 1.0,
    "kvar": 1000.0,
}
_BASE_UNIT = {
    "Wh": "Wh",
    "kWh": "Wh",
    "W": "W",
    "kW": "W",
    "varh": "varh",
    "kvarh": "varh",
    "var": "var",
    "kvar": "var",
}

Sample = events.Sample


def _unit(sampled: dict[str, Any], protocol: str) -> str | None:
    multiplier = 0
    if protocol == "ocpp1.6":
        unit = sampled.get("unit")
    else:
        measure = sampled.get("unitOfMeasure") or {}
        unit = measure.get("unit")
        multiplier = measure.get("multiplier", 0)
    if unit is None:
        # Both versions default the unit to Wh; only energy measurands are read that way.
        measurand = sampled.get("measurand", ENERGY)
        unit = "Wh" if measurand.startswith("Energy") else None
    if unit is None:
        return None
    return f"{unit}*10^{multiplier}" if multiplier else str(unit)


# Powers of ten a reading's multiplier may take (OCPP's are single digits): a charger's
# 10^3000000 would be computed as an exact integer, holding the event loop for seconds.
MAX_POWER = 30


def _normalise(value: float, unit: str | None) -> tuple[float, str | None]:
    """The value in the unit's base (Wh, W); NaN for a multiplier past MAX_POWER or unreadable."""
    if unit is None:
        return value, None
    if "*10^" in unit:
        base, exp = unit.rsplit("*10^", 1)
        try:
            power = int(exp)
        except ValueError:  # a 2.0.1 unit that spells its own power, badly
            return math.nan, base
        if not -MAX_POWER <= power <= MAX_POWER:
            return math.nan, base
        value, unit = value * 10.0**power, base
    factor = _TO_BASE.get(unit)
    if factor is None:
        return value, unit
    return value * factor, _BASE_UNIT[unit]


def samples(meter_values: list[dict[str, Any]], protocol: str) -> tuple[list[Sample], str | None]:
    """All numeric samples (energy in Wh, power in W) and the latest sample's timestamp."""
    out: list[Sample] = []
    ts: str | None = None
    for mv in meter_values:
        ts = mv.get("timestamp", ts)
        for sv in mv.get("sampledValue", ()):
            if sv.get("format") == "SignedData":
                continue  # 1.6: an encoded reading, which may look like a number but is not one
            raw = sv.get("value")
            if type(raw) is str and ("_" in raw or not raw.isascii()):
                continue  # float() reads "1_000" and other scripts' digits: no OCPP decimal
            try:
                value = float(raw)
            except (TypeError, ValueError):
                continue  # 1.6 allows signed/encoded data; not a number we can chart
            if not math.isfinite(value):
                continue  # "NaN" and "Infinity" parse as floats but are no readings
            norm, unit = _normalise(value, _unit(sv, protocol))
            if not math.isfinite(norm):
                continue  # "1e308" kWh overflows to infinity in Wh; an absurd multiplier
            out.append((sv.get("measurand", ENERGY), sv.get("phase"), norm, unit))
    return out, ts


def energy_wh(sample_list: list[Sample]) -> float | None:
    """The last sane whole-charger energy register reading, in Wh. An absurd one (negative, or
    beyond any meter) stays in the recorded samples for diagnosis but is never a partner's kWh."""
    found = None
    for measurand, phase, value, unit in sample_list:
        if measurand == ENERGY and phase is None and unit == "Wh":
            sane = sane_wh(value)
            if sane is not None:
                found = sane
    return found
