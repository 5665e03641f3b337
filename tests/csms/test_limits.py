"""What a charger may claim beyond the OCPP schemas, decided without a socket: connector and
EVSE ids in range, and energy readings a meter could give."""

from __future__ import annotations

import math

import pytest

from csms import meter
from csms.limits import MAX_REGISTER_WH, id_out_of_range, sane_wh
from shared.framing import OCPP16, OCPP201


@pytest.mark.parametrize("value", [0, 1, 12_345.5, MAX_REGISTER_WH])
def test_a_register_a_meter_could_show_is_sane(value: float) -> None:
    assert sane_wh(value) == float(value)


@pytest.mark.parametrize("value", [-1, MAX_REGISTER_WH * 10, 1e308, math.inf, math.nan, True, "5"])
def test_negative_absurd_or_non_numbers_are_not(value: object) -> None:
    assert sane_wh(value) is None


@pytest.mark.parametrize(
    ("protocol", "action", "payload", "problem"),
    [
        (OCPP16, "StatusNotification", {"connectorId": -1}, "connectorId -1"),
        (OCPP16, "StatusNotification", {"connectorId": 17}, "connectorId 17"),
        (OCPP16, "MeterValues", {"connectorId": 1_000_000_000}, "connectorId 1000000000"),
        (OCPP16, "StartTransaction", {"connectorId": 0}, "connectorId 0"),
        (OCPP201, "StatusNotification", {"evseId": 1, "connectorId": 99}, "connectorId 99"),
        (OCPP201, "TransactionEvent", {"evse": {"id": 17}}, "evse.id 17"),
    ],
)
def test_ids_outside_the_range_are_named(
    protocol: str, action: str, payload: dict, problem: str
) -> None:
    found = id_out_of_range(protocol, action, payload, 16)
    assert found is not None and found.startswith(problem)


@pytest.mark.parametrize(
    ("protocol", "action", "payload"),
    [
        (OCPP16, "StatusNotification", {"connectorId": 0}),
        (OCPP16, "StatusNotification", {"connectorId": 16}),
        (OCPP16, "Heartbeat", {}),
        (OCPP201, "TransactionEvent", {"transactionInfo": {}}),  # no evse: nothing to check
        (OCPP201, "MeterValues", {"evseId": 0}),
    ],
)
def test_ids_in_range_or_absent_pass(protocol: str, action: str, payload: dict) -> None:
    assert id_out_of_range(protocol, action, payload, 16) is None


def _sample(value: str, unit: str = "Wh") -> dict:
    return {"value": value, "unit": unit, "measurand": meter.ENERGY}


def test_an_absurd_reading_is_kept_as_a_sample_but_is_never_the_energy() -> None:
    found, _ = meter.samples([{"sampledValue": [_sample("1e308")]}], OCPP16)
    assert [s[2] for s in found] == [1e308]
    assert meter.energy_wh(found) is None


def test_the_last_sane_reading_wins_over_a_later_absurd_one() -> None:
    found, _ = meter.samples([{"sampledValue": [_sample("1200"), _sample("-5")]}], OCPP16)
    assert meter.energy_wh(found) == 1200.0


def test_a_reading_that_overflows_on_conversion_is_no_sample() -> None:
    found, _ = meter.samples([{"sampledValue": [_sample("1e308", "kWh")]}], OCPP16)
    assert found == []
