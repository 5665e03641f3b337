"""Variable monitors: setting, clearing, selecting and reporting them."""

from __future__ import annotations

from typing import Any

from simulators.device_model import DeviceModel, Variable
from simulators.monitoring import Monitors, notify_monitoring_frames
from tests.simulators.fake_central import validator


def monitors() -> Monitors:
    return Monitors(
        DeviceModel(
            [
                Variable("EVSE", "Power", "0", data_type="decimal", evse=1),
                Variable("AuthCtrlr", "Enabled", "true", data_type="boolean"),
                Variable("ClockCtrlr", "DateTime", "", supports_monitoring=False),
            ]
        )
    )


POWER = {"component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "Power"}}


def data(**extra: Any) -> dict[str, Any]:
    return {**POWER, "value": 7000.0, "type": "UpperThreshold", "severity": 4, **extra}


def test_set_assigns_ids_and_an_id_replaces_a_monitor() -> None:
    m = monitors()

    first = m.set(data())
    second = m.set(data(type="Periodic", value=60.0))
    replaced = m.set(data(id=first["id"], value=9000.0))

    assert (first["status"], second["status"], replaced["status"]) == ("Accepted",) * 3
    assert first["id"] != second["id"] and replaced["id"] == first["id"]
    assert m.monitors[first["id"]].value == 9000.0
    for result in (first, second, replaced):
        validator("ocpp2.0.1", "SetVariableMonitoring", True)({"setMonitoringResult": [result]})


def test_set_says_what_is_wrong() -> None:
    m = monitors()
    m.set(data())
    flag = {"component": {"name": "AuthCtrlr"}, "variable": {"name": "Enabled"}}
    clock = {"component": {"name": "ClockCtrlr"}, "variable": {"name": "DateTime"}}

    assert [
        m.set(item)["status"]
        for item in (
            data(),
            data(component={"name": "Nope"}),
            data(variable={"name": "Nope"}),
            data(**flag),
            data(**clock, type="Delta"),
            data(severity=10),
            data(type="Delta", value=-1.0),
            data(id=404),
        )
    ] == [
        "Duplicate",
        "UnknownComponent",
        "UnknownVariable",
        "UnsupportedMonitorType",
        "UnsupportedMonitorType",
        "Rejected",
        "Rejected",
        "Rejected",
    ]
    assert m.set(data(**flag, type="Delta", value=0.0))["status"] == "Accepted"  # any change


def test_clear_base_and_level() -> None:
    m = monitors()
    kept = m.set(data())["id"]

    assert m.clear(kept) == {"id": kept, "status": "Accepted"}
    assert m.clear(kept) == {"id": kept, "status": "NotFound"}
    m.set(data())
    assert (m.set_base("FactoryDefault"), m.monitors, m.base) == ("Accepted", {}, "FactoryDefault")
    assert (m.set_level(0), m.set_level(-1), m.level) == ("Accepted", "Rejected", 0)


def test_select_and_report() -> None:
    m = monitors()
    threshold = m.set(data())["id"]
    periodic = m.set(data(type="Periodic", value=60.0))["id"]

    assert [x.id for x in m.select(None, ["PeriodicMonitoring"])] == [periodic]
    assert [x.id for x in m.select([POWER], None)] == [threshold, periodic]
    assert m.select([{"component": {"name": "AuthCtrlr"}}], None) == []

    frames = notify_monitoring_frames(3, m.select(None, None), "2024-01-01T00:00:00Z")
    assert len(frames) == 1 and len(frames[0]["monitor"]) == 1
    assert [x["id"] for x in frames[0]["monitor"][0]["variableMonitoring"]] == [threshold, periodic]
    validator("ocpp2.0.1", "NotifyMonitoringReport", False)(frames[0])
