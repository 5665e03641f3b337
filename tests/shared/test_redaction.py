"""Secrets in OCPP payloads are masked before a command is recorded; nothing else changes."""

from __future__ import annotations

from shared.redaction import MASK, redacted


def test_the_16_authorization_key_is_masked_but_other_keys_are_not() -> None:
    assert redacted(
        {"action": "ChangeConfiguration", "payload": {"key": "AuthorizationKey", "value": "s3cret"}}
    ) == {
        "action": "ChangeConfiguration",
        "payload": {"key": "AuthorizationKey", "value": MASK},
    }
    plain = {
        "action": "ChangeConfiguration",
        "payload": {"key": "HeartbeatInterval", "value": "60"},
    }
    assert redacted(plain) == plain


def test_a_secret_settings_name_is_known_in_any_case() -> None:
    """A charger takes `authorizationkey` for AuthorizationKey (1.6 keys are CiString)."""
    for key in ("authorizationkey", "AUTHORIZATIONKEY", "basicAuthPassword"):
        assert redacted({"key": key, "value": "s3cret"}) == {"key": key, "value": MASK}


def test_the_201_basic_auth_password_variable_is_masked() -> None:
    payload = {
        "setVariableData": [
            {
                "attributeValue": "pw-123",
                "component": {"name": "SecurityCtrlr"},
                "variable": {"name": "BasicAuthPassword"},
            },
            {
                "attributeValue": "300",
                "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "HeartbeatInterval"},
            },
        ]
    }
    masked = redacted(payload)["setVariableData"]
    assert masked[0]["attributeValue"] == MASK
    assert masked[1]["attributeValue"] == "300"


def test_network_profile_passwords_and_vpn_key_are_masked() -> None:
    payload = {
        "configurationSlot": 1,
        "connectionData": {
            "ocppCsmsUrl": "wss://csms.example/ocpp",
            "apn": {"apn": "internet", "apnAuthentication": "AUTO", "apnPassword": "apn-pw"},
            "vpn": {
                "server": "vpn.example",
                "user": "u",
                "password": "vpn-pw",
                "key": "psk",
                "type": "IPSec",
            },
        },
    }
    data = redacted(payload)["connectionData"]
    assert data["apn"]["apnPassword"] == MASK
    assert data["vpn"]["password"] == MASK and data["vpn"]["key"] == MASK
    assert data["vpn"]["user"] == "u" and data["ocppCsmsUrl"] == "wss://csms.example/ocpp"
    assert payload["connectionData"]["vpn"]["password"] == "vpn-pw"  # the original is untouched
