"""The configuration keys of a simulated OCPP 1.6 charge point (GetConfiguration,
ChangeConfiguration): the standard keys of the six feature profiles it supports, each with the
kind of value it takes. No I/O here; keys that mirror live state use callbacks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

ENERGY = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"
# The measurands this charge point can sample.
MEASURANDS = frozenset({ENERGY, POWER})
FEATURE_PROFILES = (
    "Core,FirmwareManagement,LocalAuthListManagement,Reservation,SmartCharging,RemoteTrigger"
)
LOCAL_LIST_MAX = 1000
SEND_LOCAL_LIST_MAX = 100
MAX_STACK_LEVEL = 10
MAX_PERIODS = 24
MAX_PROFILES = 20


@dataclass(slots=True)
class Key:
    value: str
    readonly: bool = False
    kind: str = "str"  # str, bool, int, or list (comma-separated)
    options: frozenset[str] | None = None  # what a list may hold
    read: Callable[[], str] | None = None
    write: Callable[[str], bool] | None = None

    def current(self) -> str:
        return self.read() if self.read is not None else self.value

    def accepts(self, value: str) -> bool:
        if self.kind == "bool":
            return value.lower() in ("true", "false")
        if self.kind == "int":
            return value.isdigit()  # no sign: every integer key here is a count or seconds
        if self.kind == "list" and self.options is not None:
            return all(item.strip() in self.options for item in value.split(",") if item.strip())
        return True


def standard_keys(connectors: int) -> dict[str, Key]:
    """The keys of a charge point with `connectors` connectors, with their initial values."""
    measurands = Key(ENERGY + "," + POWER, kind="list", options=MEASURANDS)
    return {
        # Core
        "AllowOfflineTxForUnknownId": Key("false", kind="bool"),
        # No authorization cache: the central system (or the local list) is asked every time.
        "AuthorizationCacheEnabled": Key("false", readonly=True, kind="bool"),
        "AuthorizeRemoteTxRequests": Key("false", kind="bool"),
        "ClockAlignedDataInterval": Key("0", kind="int"),
        "ConnectionTimeOut": Key("60", kind="int"),
        "ConnectorPhaseRotation": Key("NotApplicable", kind="list"),
        "GetConfigurationMaxKeys": Key("100", readonly=True, kind="int"),
        "LocalAuthorizeOffline": Key("true", kind="bool"),
        # Off by default: the central system is asked about every identifier, as before.
        "LocalPreAuthorize": Key("false", kind="bool"),
        "MeterValuesAlignedData": Key(ENERGY, kind="list", options=MEASURANDS),
        "MeterValuesSampledData": measurands,
        "NumberOfConnectors": Key(str(connectors), readonly=True, kind="int"),
        "ResetRetries": Key("3", kind="int"),
        "StopTransactionOnEVSideDisconnect": Key("true", kind="bool"),
        "StopTransactionOnInvalidId": Key("true", kind="bool"),
        "StopTxnAlignedData": Key("", kind="list", options=MEASURANDS),
        "StopTxnSampledData": Key("", kind="list", options=MEASURANDS),
        "SupportedFeatureProfiles": Key(FEATURE_PROFILES, readonly=True, kind="list"),
        "TransactionMessageAttempts": Key("3", kind="int"),
        "TransactionMessageRetryInterval": Key("60", kind="int"),
        "UnlockConnectorOnEVSideDisconnect": Key("true", kind="bool"),
        # LocalAuthListManagement
        "LocalAuthListEnabled": Key("true", kind="bool"),
        "LocalAuthListMaxLength": Key(str(LOCAL_LIST_MAX), readonly=True, kind="int"),
        "SendLocalListMaxLength": Key(str(SEND_LOCAL_LIST_MAX), readonly=True, kind="int"),
        # Reservation: only a connector can be reserved, not "any connector" (0)
        "ReserveConnectorZeroSupported": Key("false", readonly=True, kind="bool"),
        # SmartCharging
        "ChargeProfileMaxStackLevel": Key(str(MAX_STACK_LEVEL), readonly=True, kind="int"),
        "ChargingScheduleAllowedChargingRateUnit": Key("Current,Power", readonly=True, kind="list"),
        "ChargingScheduleMaxPeriods": Key(str(MAX_PERIODS), readonly=True, kind="int"),
        "ConnectorSwitch3to1PhaseSupported": Key("false", readonly=True, kind="bool"),
        "MaxChargingProfilesInstalled": Key(str(MAX_PROFILES), readonly=True, kind="int"),
        # FirmwareManagement
        "SupportedFileTransferProtocols": Key("HTTP,HTTPS,FTP", readonly=True, kind="list"),
    }


class Configuration:
    def __init__(self, keys: dict[str, Key]) -> None:
        self.keys = keys

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys)

    def __contains__(self, key: object) -> bool:
        return key in self.keys

    def get(self, key: str) -> str:
        return self.keys[key].current()

    def flag(self, key: str) -> bool:
        return self.get(key).lower() == "true"

    def item(self, key: str) -> dict[str, object] | None:
        """A GetConfiguration configurationKey entry; None for an unknown key."""
        found = self.keys.get(key)
        if found is None:
            return None
        return {"key": key, "readonly": found.readonly, "value": found.current()[:500]}

    def change(self, key: str, value: str) -> str:
        """A ChangeConfiguration: Accepted, Rejected (read-only or a bad value) or NotSupported."""
        found = self.keys.get(key)
        if found is None:
            return "NotSupported"
        if found.readonly or not found.accepts(value):
            return "Rejected"
        if found.write is not None:
            return "Accepted" if found.write(value) else "Rejected"
        found.value = value.lower() if found.kind == "bool" else value
        return "Accepted"
