"""The hand-written checks for the hottest messages never accept what the official schema
refuses: whatever they accept, the compiled validator accepts too (checked over thousands of
generated near-miss payloads), and they accept the common shapes, or they would save nothing."""

from __future__ import annotations

import copy
from typing import Any

import fastjsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared import ocpp_schemas
from shared.framing import OCPP16
from shared.ocpp_fastpath import BUILDERS

METER = {
    "connectorId": 1,
    "transactionId": 7,
    "meterValue": [
        {
            "timestamp": "2026-11-30T10:00:00.123Z",
            "sampledValue": [
                {"value": "12345.6", "unit": "Wh", "measurand": "Energy.Active.Import.Register"},
                {"value": "16.1", "unit": "A", "measurand": "Current.Import", "phase": "L1"},
                {"value": "230", "context": "Sample.Periodic", "location": "Outlet"},
            ],
        }
    ],
}
STATUS = {
    "connectorId": 1,
    "errorCode": "NoError",
    "status": "Charging",
    "timestamp": "2026-11-30T10:00:00Z",
    "info": "ok",
    "vendorId": "ACME",
}
BASES = {"MeterValues": METER, "StatusNotification": STATUS}


def _checks(action: str) -> tuple[Any, Any]:
    schema = ocpp_schemas.schema(OCPP16, action)
    assert schema is not None
    fast = BUILDERS[(OCPP16, action)](schema)
    full = ocpp_schemas._compile(OCPP16, action, False)
    return fast, full


def _valid(full: Any, payload: Any) -> bool:
    try:
        full(payload)
    except fastjsonschema.JsonSchemaValueException:
        return False
    return True


# values that sit near the schema's edges: wrong types that look right, near-miss strings
ODD = st.sampled_from(
    [
        True,
        False,
        1.0,
        0,
        -1,
        2**40,
        None,
        "",
        "x" * 51,
        "x" * 256,
        "Wh",
        "wh",
        "Charging",
        "NoError",
        "L1",
        "Energy.Active.Import.Register",
        "2026-11-30T10:00:00Z",
        "2026-11-30T10:00:00Z\n",
        "2026-02-30T10:00:00Z",
        "2026-11-30 10:00:00Z",
        "2026-11-30T23:59:60Z",
        "2026-11-30T10:00:00+0100",
        [],
        {},
        [{}],
        {"value": "1"},
    ]
)


def _paths(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [at]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*at, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _paths(item, (*at, i))
    return found


@st.composite
def near_misses(draw: st.DrawFn, base: dict[str, Any]) -> Any:
    payload = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(payload)
        path = draw(st.sampled_from(paths))
        how = draw(st.sampled_from(["replace", "drop", "add"]))
        if not path:
            if how == "replace":
                payload = copy.deepcopy(draw(ODD))
            continue
        parent = payload
        try:
            for step in path[:-1]:
                parent = parent[step]
        except (KeyError, IndexError, TypeError):
            continue
        last = path[-1]
        if how == "replace":
            parent[last] = copy.deepcopy(draw(ODD))
        elif how == "drop":
            del parent[last]
        elif isinstance(parent, dict):
            parent[draw(st.sampled_from(["extra", "unit", "phase", "info", "value"]))] = (
                copy.deepcopy(draw(ODD))
            )
        elif isinstance(parent, list):
            parent.append(copy.deepcopy(draw(ODD)))
    return payload


@pytest.mark.parametrize("action", sorted(BASES))
def test_the_common_shapes_take_the_fast_path(action: str) -> None:
    fast, full = _checks(action)
    assert _valid(full, BASES[action]) and fast(BASES[action])


@pytest.mark.parametrize("action", sorted(BASES))
@settings(max_examples=3000, deadline=None, derandomize=True)
@given(data=st.data())
def test_whatever_the_fast_path_accepts_the_schema_accepts(action: str, data: Any) -> None:
    fast, full = _checks(action)
    payload = data.draw(near_misses(BASES[action]))
    if fast(payload):
        assert _valid(full, payload), payload


def test_the_node_uses_the_fast_path_and_keeps_the_schemas_errors() -> None:
    validate = ocpp_schemas.validator(OCPP16, "MeterValues")
    assert validate is not None
    validate(METER)
    bad = copy.deepcopy(METER)
    bad["meterValue"][0]["sampledValue"][0]["unit"] = "Parsec"
    with pytest.raises(fastjsonschema.JsonSchemaValueException, match="must be one of"):
        validate(bad)
