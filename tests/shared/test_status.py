"""The status mapping: every OCPP status of both versions -> one of the 7 partner statuses."""

import pytest

from shared.status import PartnerStatus as P
from shared.status import charger_status, connector_status


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Available", P.AVAILABLE),
        ("Preparing", P.BLOCKED),
        ("Charging", P.CHARGING),
        ("SuspendedEVSE", P.CHARGING),
        ("SuspendedEV", P.CHARGING),
        ("Finishing", P.BLOCKED),
        ("Reserved", P.RESERVED),
        ("Unavailable", P.INOPERATIVE),
        ("Faulted", P.INOPERATIVE),
    ],
)
def test_every_ocpp16_status_maps(raw: str, expected: P) -> None:
    assert connector_status("ocpp1.6", raw) is expected


@pytest.mark.parametrize(
    ("raw", "charging_state", "expected"),
    [
        ("Available", None, P.AVAILABLE),
        ("Reserved", None, P.RESERVED),
        ("Unavailable", None, P.INOPERATIVE),
        ("Faulted", None, P.INOPERATIVE),
        ("Occupied", None, P.BLOCKED),
        ("Occupied", "EVConnected", P.BLOCKED),
        ("Occupied", "Idle", P.BLOCKED),
        ("Occupied", "Charging", P.CHARGING),
        ("Occupied", "SuspendedEV", P.CHARGING),
        ("Occupied", "SuspendedEVSE", P.CHARGING),
    ],
)
def test_every_ocpp201_status_maps(raw: str, charging_state: str | None, expected: P) -> None:
    assert connector_status("ocpp2.0.1", raw, charging_state) is expected


def test_unknown_raw_status_is_unknown_not_an_error() -> None:
    assert connector_status("ocpp1.6", "Bogus") is P.UNKNOWN
    assert connector_status("ocpp2.0.1", "Bogus") is P.UNKNOWN


def test_a_charger_charges_while_any_connector_charges() -> None:
    assert charger_status(None, [P.AVAILABLE, P.CHARGING, P.INOPERATIVE]) is P.CHARGING


def test_a_charger_is_available_while_a_car_could_plug_in_somewhere() -> None:
    assert charger_status(None, [P.INOPERATIVE, P.AVAILABLE]) is P.AVAILABLE
    assert charger_status(None, [P.BLOCKED, P.RESERVED]) is P.RESERVED


def test_a_charger_is_inoperative_only_when_every_connector_is() -> None:
    assert charger_status(None, [P.INOPERATIVE, P.INOPERATIVE]) is P.INOPERATIVE


def test_connector_zero_out_of_order_makes_the_whole_charger_inoperative() -> None:
    assert charger_status(P.INOPERATIVE, [P.AVAILABLE]) is P.INOPERATIVE


def test_connector_zero_alone_decides_when_no_connector_reported() -> None:
    assert charger_status(P.AVAILABLE, []) is P.AVAILABLE
    assert charger_status(None, []) is P.UNKNOWN
