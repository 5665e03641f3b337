"""Secrets inside OCPP payloads, masked before a payload is recorded: commands are kept in
PostgreSQL and shown in the audit log, and neither may hold a charger's or a network's secret."""

from __future__ import annotations

from typing import Any

MASK = "***"

# Configuration keys (1.6) and variables (2.0.1) whose value is a password, case-folded:
# OCPP compares their names without regard to case (1.6 CiString).
_SECRET_SETTINGS = frozenset({"authorizationkey", "basicauthpassword"})


def _setting_name(value: dict[str, Any]) -> Any:
    """The configuration key (1.6 {key, value}) or variable (2.0.1 {variable, attributeValue})
    a dict sets, if it sets one."""
    if "value" in value:
        return value.get("key")
    variable = value.get("variable")
    if "attributeValue" in value and isinstance(variable, dict):
        return variable.get("name")
    return None


def _masked(value: Any) -> Any:
    if isinstance(value, list):
        return [_masked(item) for item in value]
    if not isinstance(value, dict):
        return value
    name = _setting_name(value)
    secret_setting = isinstance(name, str) and name.casefold() in _SECRET_SETTINGS
    vpn = "server" in value and "key" in value  # 2.0.1 VPNType: its key is a shared secret
    out: dict[str, Any] = {}
    for field, item in value.items():
        if (
            (secret_setting and field in ("value", "attributeValue"))
            or (vpn and field == "key")
            or ("password" in field.lower() and isinstance(item, str))
        ):
            out[field] = MASK
        else:
            out[field] = _masked(item)
    return out


def redacted(params: dict[str, Any]) -> dict[str, Any]:
    """The params with every password, key and secret setting value masked."""
    masked: dict[str, Any] = _masked(params)
    return masked
