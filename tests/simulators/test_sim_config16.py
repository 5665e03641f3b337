"""The 1.6 configuration keys and what ChangeConfiguration may set them to."""

from __future__ import annotations

import pytest

from simulators.config16 import Configuration, Key, standard_keys


def config() -> Configuration:
    return Configuration(standard_keys(connectors=2))


def test_the_keys_of_every_feature_profile_are_there() -> None:
    c = config()

    for key in (
        "AuthorizeRemoteTxRequests",
        "LocalAuthListEnabled",
        "LocalAuthListMaxLength",
        "SendLocalListMaxLength",
        "ReserveConnectorZeroSupported",
        "ChargeProfileMaxStackLevel",
        "SupportedFileTransferProtocols",
    ):
        assert key in c
    assert c.get("NumberOfConnectors") == "2"
    assert c.item("Nope") is None
    assert c.item("NumberOfConnectors") == {
        "key": "NumberOfConnectors",
        "readonly": True,
        "value": "2",
    }


@pytest.mark.parametrize(
    ("key", "value", "status"),
    [
        ("LocalPreAuthorize", "True", "Accepted"),
        ("LocalPreAuthorize", "1", "Rejected"),
        ("ConnectionTimeOut", "90", "Accepted"),
        ("ConnectionTimeOut", "-1", "Rejected"),
        ("MeterValuesSampledData", "Energy.Active.Import.Register", "Accepted"),
        ("MeterValuesSampledData", "Voltage", "Rejected"),  # cannot be sampled here
        ("NumberOfConnectors", "3", "Rejected"),  # read-only
        ("Nope", "1", "NotSupported"),
    ],
)
def test_change(key: str, value: str, status: str) -> None:
    c = config()

    assert c.change(key, value) == status
    if status == "Accepted":
        assert c.get(key).lower() == value.lower()


def test_live_keys_read_and_write_through() -> None:
    seen: list[str] = []
    c = Configuration(
        {"Live": Key("", kind="int", read=lambda: "5", write=lambda v: seen.append(v) is None)}
    )

    assert (c.get("Live"), c.change("Live", "9"), seen) == ("5", "Accepted", ["9"])
    assert c.change("Live", "x") == "Rejected"
    assert c.flag("Live") is False
