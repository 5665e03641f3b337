"""The OCPP 2.0.1 device model of a simulated station: components and their variables, read
and written by GetVariables/SetVariables and reported by GetBaseReport/GetReport as NotifyReport
frames. No I/O here; variables that mirror the station's live state read it through callbacks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from shared.framing import Payload
from simulators.clock import parse_iso

READ_ONLY = "ReadOnly"
READ_WRITE = "ReadWrite"
WRITE_ONLY = "WriteOnly"
NUMERIC = frozenset({"integer", "decimal"})
# A report frame (NotifyReport, ...) carries at most this many items; more go in further frames.
REPORT_ITEMS_PER_FRAME = 20

# (component name, component instance, EVSE id, connector id)
ComponentKey = tuple[str, str | None, int | None, int | None]


@dataclass(slots=True)
class Variable:
    component: str
    name: str
    value: str = ""
    mutability: str = READ_WRITE
    data_type: str = "string"
    evse: int | None = None
    connector: int | None = None
    component_instance: str | None = None
    instance: str | None = None
    unit: str | None = None
    values_list: str | None = None  # the options of an OptionList/MemberList/SequenceList
    min_limit: float | None = None
    max_limit: float | None = None
    supports_monitoring: bool = True
    # Live values: read from, or written to, the station rather than `value`.
    read: Callable[[], str] | None = None
    write: Callable[[str], bool] | None = None

    @property
    def component_key(self) -> ComponentKey:
        return (self.component, self.component_instance, self.evse, self.connector)

    def current(self) -> str:
        return self.read() if self.read is not None else self.value

    def component_payload(self) -> Payload:
        component: Payload = {"name": self.component}
        if self.component_instance is not None:
            component["instance"] = self.component_instance
        if self.evse is not None:
            component["evse"] = {"id": self.evse}
            if self.connector is not None:
                component["evse"]["connectorId"] = self.connector
        return component

    def variable_payload(self) -> Payload:
        variable: Payload = {"name": self.name}
        if self.instance is not None:
            variable["instance"] = self.instance
        return variable

    def accepts(self, value: str) -> bool:
        """Whether `value` is valid for this variable's data type and limits."""
        options = None if self.values_list is None else self.values_list.split(",")
        if self.data_type in NUMERIC:
            try:
                number = int(value) if self.data_type == "integer" else float(value)
            except ValueError:
                return False
            if not math.isfinite(number):
                return False
            return (self.min_limit is None or number >= self.min_limit) and (
                self.max_limit is None or number <= self.max_limit
            )
        if self.data_type == "boolean":
            return value in ("true", "false")
        if self.data_type == "OptionList":
            return options is None or value in options
        if self.data_type in ("MemberList", "SequenceList"):
            members = [m for m in value.split(",") if m]
            return options is None or all(m in options for m in members)
        if self.data_type == "dateTime":
            try:
                parse_iso(value)
            except ValueError:
                return False
        return True

    def report(self) -> Payload:
        """This variable as a NotifyReport reportData item."""
        attribute: Payload = {"type": "Actual", "mutability": self.mutability, "persistent": True}
        if self.mutability != WRITE_ONLY:
            attribute["value"] = self.current()[:2500]
        attribute["constant"] = self.mutability == READ_ONLY and self.read is None
        characteristics: Payload = {
            "dataType": self.data_type,
            "supportsMonitoring": self.supports_monitoring,
        }
        if self.unit is not None:
            characteristics["unit"] = self.unit
        if self.min_limit is not None:
            characteristics["minLimit"] = self.min_limit
        if self.max_limit is not None:
            characteristics["maxLimit"] = self.max_limit
        if self.values_list is not None:
            characteristics["valuesList"] = self.values_list
        return {
            "component": self.component_payload(),
            "variable": self.variable_payload(),
            "variableAttribute": [attribute],
            "variableCharacteristics": characteristics,
        }


def component_key(component: Payload) -> ComponentKey:
    """The key of a ComponentType of a request."""
    evse = component.get("evse") or {}
    return (component["name"], component.get("instance"), evse.get("id"), evse.get("connectorId"))


class DeviceModel:
    def __init__(self, variables: Iterable[Variable] = ()) -> None:
        self.variables: list[Variable] = []
        for variable in variables:
            self.add(variable)

    def add(self, variable: Variable) -> None:
        self.variables.append(variable)

    def __iter__(self) -> Iterator[Variable]:
        return iter(self.variables)

    def find(self, component: Payload, variable: Payload) -> tuple[Variable | None, str]:
        """The variable a request names, or None and why: UnknownComponent/UnknownVariable."""
        key = component_key(component)
        wanted = (variable["name"], variable.get("instance"))
        known_component = False
        for v in self.variables:
            if v.component_key != key:
                continue
            known_component = True
            if (v.name, v.instance) == wanted:
                return v, "Accepted"
        return None, "UnknownVariable" if known_component else "UnknownComponent"

    def lookup(self, component: str, name: str, instance: str | None = None) -> Variable:
        """A station-wide variable by name, for the station's own use; KeyError if none."""
        for v in self.variables:
            if v.component == component and v.name == name and v.instance == instance:
                if v.evse is None and v.component_instance is None:
                    return v
        raise KeyError(f"{component}.{name}")

    def flag(self, component: str, name: str) -> bool:
        """A station-wide boolean variable, for the station's own use."""
        return self.lookup(component, name).current() == "true"

    def get(self, item: Payload) -> Payload:
        """The result of one GetVariables item."""
        result: Payload = {"component": item["component"], "variable": item["variable"]}
        if "attributeType" in item:
            result["attributeType"] = item["attributeType"]
        variable, status = self.find(item["component"], item["variable"])
        if variable is None:
            result["attributeStatus"] = status
        elif item.get("attributeType", "Actual") != "Actual":
            result["attributeStatus"] = "NotSupportedAttributeType"
        elif variable.mutability == WRITE_ONLY:
            result["attributeStatus"] = "Rejected"
        else:
            result["attributeStatus"] = "Accepted"
            result["attributeValue"] = variable.current()[:2500]
        return result

    def set(self, item: Payload) -> Payload:
        """Apply one SetVariables item and return its result."""
        result: Payload = {"component": item["component"], "variable": item["variable"]}
        if "attributeType" in item:
            result["attributeType"] = item["attributeType"]
        variable, status = self.find(item["component"], item["variable"])
        value = item["attributeValue"]
        if variable is None:
            result["attributeStatus"] = status
        elif item.get("attributeType", "Actual") != "Actual":
            result["attributeStatus"] = "NotSupportedAttributeType"
        elif variable.mutability == READ_ONLY or not variable.accepts(value):
            result["attributeStatus"] = "Rejected"
        elif variable.write is not None:
            result["attributeStatus"] = "Accepted" if variable.write(value) else "Rejected"
        else:
            variable.value = value
            result["attributeStatus"] = "Accepted"
        return result

    def base_report(self, report_base: str) -> list[Variable]:
        """The variables of a GetBaseReport: all of them, the configurable ones, or the ones
        that tell the station's state."""
        if report_base == "ConfigurationInventory":
            return [v for v in self.variables if v.mutability != READ_ONLY]
        if report_base == "SummaryInventory":
            return [v for v in self.variables if v.name == "AvailabilityState"]
        return list(self.variables)

    def select(
        self, component_variables: list[Payload] | None, criteria: list[str] | None
    ) -> list[Variable]:
        """The variables of a GetReport: those named (a component without a variable names all
        of its variables; what a request leaves out matches anything) on components that meet
        every criterion (Active, Available, Enabled, Problem: a variable so named is true)."""
        chosen = [
            v
            for v in self.variables
            if component_variables is None or any(_names(cv, v) for cv in component_variables)
        ]
        if criteria:
            meeting = {
                key
                for key in {v.component_key for v in self.variables}
                if all(self._holds(key, criterion) for criterion in criteria)
            }
            chosen = [v for v in chosen if v.component_key in meeting]
        return chosen

    def _holds(self, key: ComponentKey, criterion: str) -> bool:
        return any(
            v.component_key == key and v.name == criterion and v.current() == "true"
            for v in self.variables
        )


def _names(component_variable: Payload, v: Variable) -> bool:
    component = component_variable["component"]
    evse = component.get("evse")
    if component["name"] != v.component:
        return False
    if "instance" in component and component["instance"] != v.component_instance:
        return False
    if evse is not None:
        if evse["id"] != v.evse:
            return False
        if "connectorId" in evse and evse["connectorId"] != v.connector:
            return False
    variable = component_variable.get("variable")
    if variable is None:
        return True
    return bool(variable["name"] == v.name and variable.get("instance", v.instance) == v.instance)


def notify_report_frames(
    request_id: int, variables: list[Variable], generated_at: str
) -> list[Payload]:
    """The NotifyReport requests that carry `variables`."""
    header: Payload = {"requestId": request_id, "generatedAt": generated_at}
    return report_frames(header, "reportData", [v.report() for v in variables])


def report_frames(header: Payload, field: str, items: list[Payload]) -> list[Payload]:
    """The frames of a report (NotifyReport, NotifyMonitoringReport, ...) of `items`: at most
    REPORT_ITEMS_PER_FRAME in each, numbered by seqNo, every one but the last saying more
    follow (tbc)."""
    step = REPORT_ITEMS_PER_FRAME
    chunks = [items[i : i + step] for i in range(0, len(items), step)] or [[]]
    frames: list[Payload] = []
    for seq_no, chunk in enumerate(chunks):
        frame: Payload = {**header, "seqNo": seq_no}
        if chunk:
            frame[field] = chunk
        if seq_no < len(chunks) - 1:
            frame["tbc"] = True
        frames.append(frame)
    return frames
