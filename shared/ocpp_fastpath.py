"""Hand-written checks for the messages chargers send most (OCPP 1.6 MeterValues and
StatusNotification). The compiled validators are generic: for a MeterValues with ten sampled
values they make hundreds of type checks and list scans, about a quarter of the csms's CPU
for that message. A check here accepts only payloads of the common shape, every one of which
the official schema accepts too (the enums, lengths and date-time rule are read from the
schema and the compiled validator's own format rule); whatever it does not accept goes to the
compiled validator, which gives the verdict and the precise error. So the answer to any
payload is the compiled validator's, only sooner for the common case."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastjsonschema.draft04 import CodeGeneratorDraft04

from shared.framing import OCPP16

Check = Callable[[Any], bool]

# the rule the compiled (draft-04) validators apply to "format": "date-time"
_DATE_TIME = re.compile(CodeGeneratorDraft04.FORMAT_REGEXS["date-time"])


def _string_rules(properties: dict[str, Any]) -> dict[str, frozenset[str] | int | None]:
    """Per string property: its enum, or its maxLength, or None (any string)."""
    rules: dict[str, frozenset[str] | int | None] = {}
    for name, rule in properties.items():
        if rule.get("type") != "string" or "format" in rule:
            continue
        if "enum" in rule:
            rules[name] = frozenset(rule["enum"])
        else:
            rules[name] = rule.get("maxLength")
    return rules


def _string_ok(rule: frozenset[str] | int | None, value: Any) -> bool:
    if type(value) is not str:
        return False
    if rule is None:
        return True
    if isinstance(rule, int):
        return len(value) <= rule
    return value in rule


def meter_values_16(schema: dict[str, Any]) -> Check:
    top = schema["properties"]
    item = top["meterValue"]["items"]
    sampled = _string_rules(item["properties"]["sampledValue"]["items"]["properties"])
    top_keys = frozenset(top)
    item_keys = frozenset(item["properties"])
    assert "value" in sampled and set(sampled) == set(
        item["properties"]["sampledValue"]["items"]["properties"]
    ), "a sampled value has a property this check does not know"

    def check(p: Any) -> bool:
        if type(p) is not dict or not p.keys() <= top_keys:
            return False
        if type(p.get("connectorId")) is not int:
            return False
        if "transactionId" in p and type(p["transactionId"]) is not int:
            return False
        values = p.get("meterValue")
        if type(values) is not list or not values:
            return False
        for mv in values:
            if type(mv) is not dict or mv.keys() != item_keys:
                return False
            ts = mv["timestamp"]
            if type(ts) is not str or _DATE_TIME.match(ts) is None:
                return False
            samples = mv["sampledValue"]
            if type(samples) is not list or not samples:
                return False
            for sv in samples:
                if type(sv) is not dict or "value" not in sv:
                    return False
                for name, value in sv.items():
                    if name not in sampled or not _string_ok(sampled[name], value):
                        return False
        return True

    return check


def status_notification_16(schema: dict[str, Any]) -> Check:
    properties = schema["properties"]
    strings = _string_rules(properties)
    required = frozenset(schema["required"])
    assert set(properties) == {*strings, "connectorId", "timestamp"}, "an unknown property"

    def check(p: Any) -> bool:
        if type(p) is not dict or not required <= p.keys():
            return False
        for name, value in p.items():
            if name == "connectorId":
                if type(value) is not int:
                    return False
            elif name == "timestamp":
                if type(value) is not str or _DATE_TIME.match(value) is None:
                    return False
            elif name not in strings or not _string_ok(strings[name], value):
                return False
        return True

    return check


# (protocol, action) -> a builder of the check from that action's official schema
BUILDERS: dict[tuple[str, str], Callable[[dict[str, Any]], Check]] = {
    (OCPP16, "MeterValues"): meter_values_16,
    (OCPP16, "StatusNotification"): status_notification_16,
}
