"""The 2.0.1 device model: finding, reading and writing variables, and the reports of them."""

from __future__ import annotations

from typing import Any

import pytest

from simulators.device_model import (
    REPORT_ITEMS_PER_FRAME,
    DeviceModel,
    Variable,
    notify_report_frames,
)
from tests.simulators.fake_central import validator


def model() -> DeviceModel:
    live = {"value": "7"}
    return DeviceModel(
        [
            Variable("Ctrlr", "Count", "3", data_type="integer", min_limit=0, max_limit=10),
            Variable("Ctrlr", "Flag", "true", data_type="boolean"),
            Variable("Ctrlr", "Mode", "Fast", data_type="OptionList", values_list="Fast,Slow"),
            Variable("Ctrlr", "Members", "A", data_type="MemberList", values_list="A,B,C"),
            Variable("Ctrlr", "Fixed", "x", mutability="ReadOnly"),
            Variable("Ctrlr", "Secret", "", mutability="WriteOnly"),
            Variable("Ctrlr", "Attempts", "3", data_type="integer", instance="TransactionEvent"),
            Variable(
                "Ctrlr",
                "Live",
                data_type="integer",
                read=lambda: live["value"],
                write=lambda v: live.update(value=v) is None and v != "13",
            ),
            Variable("EVSE", "AvailabilityState", "Available", mutability="ReadOnly", evse=1),
            Variable("EVSE", "Enabled", "true", data_type="boolean", evse=1),
            Variable("Connector", "Enabled", "false", data_type="boolean", evse=1, connector=1),
        ]
    )


def item(component: str, name: str, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"component": {"name": component}, "variable": {"name": name}}
    if "evse" in extra:
        out["component"]["evse"] = extra.pop("evse")
    if "instance" in extra:
        out["variable"]["instance"] = extra.pop("instance")
    return {**out, **extra}


@pytest.mark.parametrize(
    ("request_item", "status", "value"),
    [
        (item("Ctrlr", "Count"), "Accepted", "3"),
        (item("Ctrlr", "Nope"), "UnknownVariable", None),
        (item("Nope", "Count"), "UnknownComponent", None),
        (item("EVSE", "AvailabilityState"), "UnknownComponent", None),  # no EVSE given
        (item("EVSE", "AvailabilityState", evse={"id": 1}), "Accepted", "Available"),
        (item("Ctrlr", "Attempts"), "UnknownVariable", None),  # without its instance
        (item("Ctrlr", "Attempts", instance="TransactionEvent"), "Accepted", "3"),
        (item("Ctrlr", "Count", attributeType="Target"), "NotSupportedAttributeType", None),
        (item("Ctrlr", "Secret"), "Rejected", None),
        (item("Ctrlr", "Live"), "Accepted", "7"),
    ],
)
def test_get(request_item: dict[str, Any], status: str, value: str | None) -> None:
    result = model().get(request_item)

    assert result["attributeStatus"] == status
    assert result.get("attributeValue") == value
    assert (result["component"], result["variable"]) == (
        request_item["component"],
        request_item["variable"],
    )
    validator("ocpp2.0.1", "GetVariables", True)({"getVariableResult": [result]})


@pytest.mark.parametrize(
    ("name", "value", "status"),
    [
        ("Count", "10", "Accepted"),
        ("Count", "11", "Rejected"),  # above its maximum
        ("Count", "2.5", "Rejected"),
        ("Flag", "false", "Accepted"),
        ("Flag", "yes", "Rejected"),
        ("Mode", "Slow", "Accepted"),
        ("Mode", "Turbo", "Rejected"),
        ("Members", "A,C", "Accepted"),
        ("Members", "A,D", "Rejected"),
        ("Fixed", "y", "Rejected"),
        ("Secret", "s3cret", "Accepted"),
        ("Live", "9", "Accepted"),
        ("Live", "13", "Rejected"),  # its writer refuses
    ],
)
def test_set(name: str, value: str, status: str) -> None:
    device = model()

    result = device.set(item("Ctrlr", name, attributeValue=value))

    assert result["attributeStatus"] == status
    if status == "Accepted":
        assert device.lookup("Ctrlr", name).current() == value
    validator("ocpp2.0.1", "SetVariables", True)({"setVariableResult": [result]})


def test_flag_and_lookup_are_for_station_wide_variables() -> None:
    device = model()

    assert device.flag("Ctrlr", "Flag") is True
    with pytest.raises(KeyError):
        device.lookup("EVSE", "Enabled")


def test_base_reports() -> None:
    device = model()

    assert len(device.base_report("FullInventory")) == len(device.variables)
    assert all(v.mutability != "ReadOnly" for v in device.base_report("ConfigurationInventory"))
    assert [v.name for v in device.base_report("SummaryInventory")] == ["AvailabilityState"]


def test_select_by_component_variable_and_criteria() -> None:
    device = model()

    def names(
        component_variables: list[dict[str, Any]] | None, criteria: list[str] | None = None
    ) -> list[tuple[str, str]]:
        return [(v.component, v.name) for v in device.select(component_variables, criteria)]

    assert names([{"component": {"name": "EVSE"}}]) == [
        ("EVSE", "AvailabilityState"),
        ("EVSE", "Enabled"),
    ]
    assert names([item("Ctrlr", "Attempts")]) == [("Ctrlr", "Attempts")]  # any instance
    connector_only = [{"component": {"name": "Connector", "evse": {"id": 1, "connectorId": 1}}}]
    assert names(connector_only) == [("Connector", "Enabled")]
    # Enabled: components whose Enabled variable is true
    assert names(None, ["Enabled"]) == [("EVSE", "AvailabilityState"), ("EVSE", "Enabled")]
    assert names(None, ["Enabled", "Problem"]) == []


def test_notify_report_frames_carry_every_variable_in_numbered_frames() -> None:
    variables = [Variable("Ctrlr", f"V{n}", str(n)) for n in range(REPORT_ITEMS_PER_FRAME * 2 + 1)]
    variables.append(Variable("Ctrlr", "Secret", "hidden", mutability="WriteOnly"))

    frames = notify_report_frames(7, variables, "2024-01-01T00:00:00Z")

    assert [(f["seqNo"], f.get("tbc", False), len(f["reportData"])) for f in frames] == [
        (0, True, REPORT_ITEMS_PER_FRAME),
        (1, True, REPORT_ITEMS_PER_FRAME),
        (2, False, 2),
    ]
    secret = frames[-1]["reportData"][-1]
    assert "value" not in secret["variableAttribute"][0]  # write-only: never reported
    for frame in frames:
        validator("ocpp2.0.1", "NotifyReport", False)(frame)
    assert notify_report_frames(8, [], "2024-01-01T00:00:00Z") == [
        {"requestId": 8, "generatedAt": "2024-01-01T00:00:00Z", "seqNo": 0}
    ]
