"""The device model of the simulated 2.0.1 station: every variable is distinct, reportable and
valid against the official schemas."""

from __future__ import annotations

from simulators import SimCharger201
from simulators.device_model import notify_report_frames
from tests.simulators.fake_central import validator


def test_every_variable_is_named_once_and_reports_valid_against_the_schema() -> None:
    station = SimCharger201("CS-1", "ws://127.0.0.1:1/ocpp", connectors=2)
    variables = station.device_model.variables

    keys = [(v.component_key, v.name, v.instance) for v in variables]
    assert len(keys) == len(set(keys))
    for frame in notify_report_frames(1, variables, "2024-01-01T00:00:00Z"):
        validator("ocpp2.0.1", "NotifyReport", False)(frame)


def test_the_standard_controllers_are_there() -> None:
    station = SimCharger201("CS-1", "ws://127.0.0.1:1/ocpp", connectors=2)

    components = {v.component for v in station.device_model.variables}

    assert {
        "AuthCtrlr",
        "ChargingStation",
        "ClockCtrlr",
        "Connector",
        "DeviceDataCtrlr",
        "DisplayMessageCtrlr",
        "EVSE",
        "LocalAuthListCtrlr",
        "MonitoringCtrlr",
        "OCPPCommCtrlr",
        "ReservationCtrlr",
        "SampledDataCtrlr",
        "SecurityCtrlr",
        "SmartChargingCtrlr",
        "TxCtrlr",
    } == components
    evses = {v.evse for v in station.device_model.variables if v.component == "EVSE"}
    assert evses == {1, 2}


def test_every_current_value_is_valid_for_its_variable() -> None:
    station = SimCharger201("CS-1", "ws://127.0.0.1:1/ocpp", password="pw")

    for v in station.device_model.variables:
        if v.mutability != "WriteOnly":
            assert v.accepts(v.current()), (v.component, v.name, v.current())
    assert station.device_model.lookup("SecurityCtrlr", "SecurityProfile").current() == "1"
