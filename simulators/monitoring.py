"""OCPP 2.0.1 variable monitors (SetVariableMonitoring and the rest of its family): which are set,
what each request answers, and the NotifyMonitoringReport frames. The simulator stores
monitors but never trips them (it sends no NotifyEvent). No I/O here."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

from shared.framing import Payload
from simulators.device_model import NUMERIC, DeviceModel, Variable, report_frames

MONITOR_BASES = ("All", "FactoryDefault", "HardWiredOnly")
MAX_SEVERITY = 9
# Which monitor types each GetMonitoringReport criterion asks for.
CRITERIA = {
    "ThresholdMonitoring": {"UpperThreshold", "LowerThreshold"},
    "DeltaMonitoring": {"Delta"},
    "PeriodicMonitoring": {"Periodic", "PeriodicClockAligned"},
}
_THRESHOLDS = CRITERIA["ThresholdMonitoring"]


@dataclass(slots=True)
class Monitor:
    id: int
    variable: Variable
    type: str
    value: float
    severity: int
    transaction: bool

    def payload(self) -> Payload:
        return {
            "id": self.id,
            "transaction": self.transaction,
            "value": self.value,
            "type": self.type,
            "severity": self.severity,
        }


class Monitors:
    def __init__(self, model: DeviceModel) -> None:
        self.model = model
        self.monitors: dict[int, Monitor] = {}
        self.base = "All"
        self.level = MAX_SEVERITY  # events up to this severity would be reported
        self._ids = itertools.count(1)

    def set(self, item: Payload) -> Payload:
        """Apply one SetVariableMonitoring item and return its result."""
        result: Payload = {
            "status": "Accepted",
            "type": item["type"],
            "severity": item["severity"],
            "component": item["component"],
            "variable": item["variable"],
        }
        variable, status = self.model.find(item["component"], item["variable"])
        monitor_id = item.get("id")
        if monitor_id is not None:
            result["id"] = monitor_id
        if variable is None:
            result["status"] = status
        elif not variable.supports_monitoring or (
            item["type"] in _THRESHOLDS and variable.data_type not in NUMERIC
        ):
            result["status"] = "UnsupportedMonitorType"
        elif not 0 <= item["severity"] <= MAX_SEVERITY or (
            item["type"] == "Delta" and item["value"] < 0
        ):
            result["status"] = "Rejected"
        elif monitor_id is not None and monitor_id not in self.monitors:
            result["status"] = "Rejected"  # an id names a monitor to replace
        elif self._duplicate(variable, item, monitor_id):
            result["status"] = "Duplicate"
        else:
            if monitor_id is None:
                monitor_id = next(i for i in self._ids if i not in self.monitors)
            self.monitors[monitor_id] = Monitor(
                monitor_id,
                variable,
                item["type"],
                item["value"],
                item["severity"],
                item.get("transaction", False),
            )
            result["id"] = monitor_id
        return result

    def _duplicate(self, variable: Variable, item: Payload, monitor_id: int | None) -> bool:
        return any(
            m.variable is variable
            and m.type == item["type"]
            and m.severity == item["severity"]
            and m.id != monitor_id
            for m in self.monitors.values()
        )

    def clear(self, monitor_id: int) -> Payload:
        """Remove one monitor: the result of a ClearVariableMonitoring id."""
        found = self.monitors.pop(monitor_id, None)
        return {"id": monitor_id, "status": "NotFound" if found is None else "Accepted"}

    def set_base(self, base: str) -> str:
        """SetMonitoringBase: with no preconfigured or hard-wired monitors here, any base but
        All leaves none of the central system's monitors."""
        if base not in MONITOR_BASES:
            return "Rejected"
        self.base = base
        if base != "All":
            self.monitors.clear()
        return "Accepted"

    def set_level(self, severity: int) -> str:
        if not 0 <= severity <= MAX_SEVERITY:
            return "Rejected"
        self.level = severity
        return "Accepted"

    def select(
        self, component_variables: list[Payload] | None, criteria: list[str] | None
    ) -> list[Monitor]:
        """The monitors a GetMonitoringReport asks for."""
        types = None
        if criteria:
            types = set().union(*(CRITERIA[c] for c in criteria))
        variables = None
        if component_variables is not None:
            variables = {id(v) for v in self.model.select(component_variables, None)}
        return [
            m
            for m in self.monitors.values()
            if (types is None or m.type in types)
            and (variables is None or id(m.variable) in variables)
        ]


def notify_monitoring_frames(
    request_id: int, monitors: Iterable[Monitor], generated_at: str
) -> list[Payload]:
    """The NotifyMonitoringReport requests for `monitors`, grouped by variable."""
    grouped: dict[int, tuple[Variable, list[Payload]]] = {}
    for m in monitors:
        grouped.setdefault(id(m.variable), (m.variable, []))[1].append(m.payload())
    items = [
        {
            "component": variable.component_payload(),
            "variable": variable.variable_payload(),
            "variableMonitoring": found,
        }
        for variable, found in grouped.values()
    ]
    header: Payload = {"requestId": request_id, "generatedAt": generated_at}
    return report_frames(header, "monitor", items)
