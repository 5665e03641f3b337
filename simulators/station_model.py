"""The device model of a simulated OCPP 2.0.1 station: the standard components and variables of
the functional blocks it implements, with its initial configuration. Variables that tell the
station's state read it live."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simulators.certificates import STATION_CERTIFICATE
from simulators.clock import iso_now
from simulators.device_model import READ_ONLY, READ_WRITE, WRITE_ONLY, DeviceModel, Variable
from simulators.display_messages import MAX_MESSAGES, SUPPORTED_FORMATS, SUPPORTED_PRIORITIES

if TYPE_CHECKING:
    from simulators.v201 import SimCharger201

ENERGY = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"
MEASURANDS = f"{ENERGY},{POWER}"
CONNECTOR_TYPE = "cType2"
PHASES = "3"
ITEMS_PER_MESSAGE = 100
BYTES_PER_MESSAGE = 65000
LOCAL_LIST_MAX = 1000
PROFILE_STACK_LEVEL = 10
PERIODS_PER_SCHEDULE = 24
STATES = "Available,Occupied,Reserved,Unavailable,Faulted"
TX_POINTS = "ParkingBayOccupancy,EVConnected,Authorized,DataSigned,PowerPathClosed,EnergyTransfer"
TIME_SOURCES = "Heartbeat,NTP,GPS,RealTimeClock,MobileNetwork,RadioTimeTransmitter"


def _ro(component: str, name: str, value: str, data_type: str = "string", **kw: Any) -> Variable:
    return Variable(component, name, value, READ_ONLY, data_type, **kw)


def _rw(component: str, name: str, value: str, data_type: str = "string", **kw: Any) -> Variable:
    return Variable(component, name, value, READ_WRITE, data_type, **kw)


def build(station: SimCharger201) -> DeviceModel:
    s = station
    model = DeviceModel()
    add = model.add

    def flag_true(component: str) -> None:
        add(_ro(component, "Available", "true", "boolean"))
        add(_rw(component, "Enabled", "true", "boolean"))

    # The station, its EVSEs and their connectors.
    add(
        _ro(
            "ChargingStation",
            "AvailabilityState",
            "",
            "OptionList",
            values_list=STATES,
            read=lambda: "Available" if s.availability[0] == "Operative" else "Unavailable",
        )
    )
    add(_ro("ChargingStation", "Available", "true", "boolean"))
    add(_ro("ChargingStation", "Model", s.model))
    add(_ro("ChargingStation", "VendorName", s.vendor))
    add(_ro("ChargingStation", "SupplyPhases", PHASES, "integer"))
    for evse in s.connector_ids():
        for connector in (None, 1):
            name = "EVSE" if connector is None else "Connector"
            where: dict[str, Any] = {"evse": evse, "connector": connector}
            add(
                _ro(
                    name,
                    "AvailabilityState",
                    "",
                    "OptionList",
                    values_list=STATES,
                    read=lambda e=evse: s.connector_status[e],
                    **where,
                )
            )
            add(_ro(name, "Available", "true", "boolean", **where))
            add(_ro(name, "SupplyPhases", PHASES, "integer", **where))
        add(
            _ro(
                "EVSE",
                "Power",
                "",
                "decimal",
                evse=evse,
                unit="W",
                max_limit=s.power_w,
                read=lambda e=evse: str(s.power_now(e)),
            )
        )
        add(
            _ro(
                "Connector",
                "ConnectorType",
                CONNECTOR_TYPE,
                evse=evse,
                connector=1,
                supports_monitoring=False,
            )
        )

    # Authorization
    add(_rw("AuthCtrlr", "Enabled", "true", "boolean"))
    add(_rw("AuthCtrlr", "AuthorizeRemoteStart", "false", "boolean"))
    add(_rw("AuthCtrlr", "LocalAuthorizeOffline", "true", "boolean"))
    # Off by default: the central system is asked about every identifier.
    add(_rw("AuthCtrlr", "LocalPreAuthorize", "false", "boolean"))
    add(_rw("AuthCtrlr", "OfflineTxForUnknownIdEnabled", "false", "boolean"))
    flag_true("LocalAuthListCtrlr")
    add(
        _ro(
            "LocalAuthListCtrlr",
            "Entries",
            "",
            "integer",
            max_limit=LOCAL_LIST_MAX,
            read=lambda: str(len(s.local_list.entries)),
        )
    )
    add(_ro("LocalAuthListCtrlr", "ItemsPerMessage", str(ITEMS_PER_MESSAGE), "integer"))
    add(_ro("LocalAuthListCtrlr", "BytesPerMessage", str(BYTES_PER_MESSAGE), "integer"))

    # Communication and time
    add(
        _rw(
            "OCPPCommCtrlr",
            "HeartbeatInterval",
            "",
            "integer",
            unit="s",
            min_limit=1,
            read=lambda: s._read_interval("HeartbeatInterval") or "",
            write=lambda v: s._write_interval("HeartbeatInterval", v),
        )
    )
    add(_rw("OCPPCommCtrlr", "MessageTimeout", "30", "integer", instance="Default", unit="s"))
    add(_ro("OCPPCommCtrlr", "FileTransferProtocols", "HTTP,HTTPS,FTP", "MemberList"))
    add(_rw("OCPPCommCtrlr", "NetworkConfigurationPriority", "0", "SequenceList"))
    add(_rw("OCPPCommCtrlr", "NetworkProfileConnectionAttempts", "3", "integer"))
    add(_rw("OCPPCommCtrlr", "OfflineThreshold", "60", "integer", unit="s"))
    add(_rw("OCPPCommCtrlr", "MessageAttempts", "3", "integer", instance="TransactionEvent"))
    add(
        _rw(
            "OCPPCommCtrlr",
            "MessageAttemptInterval",
            "60",
            "integer",
            instance="TransactionEvent",
            unit="s",
        )
    )
    add(_rw("OCPPCommCtrlr", "ResetRetries", "2", "integer"))
    add(_rw("OCPPCommCtrlr", "UnlockOnEVSideDisconnect", "true", "boolean"))
    add(_rw("OCPPCommCtrlr", "WebSocketPingInterval", "0", "integer", unit="s"))
    add(_ro("ClockCtrlr", "DateTime", "", "dateTime", read=iso_now, supports_monitoring=False))
    add(_rw("ClockCtrlr", "TimeSource", "Heartbeat", "SequenceList", values_list=TIME_SOURCES))
    for message in ("GetReport", "GetVariables", "SetVariables"):
        add(
            _ro(
                "DeviceDataCtrlr",
                "ItemsPerMessage",
                str(ITEMS_PER_MESSAGE),
                "integer",
                instance=message,
            )
        )
        add(
            _ro(
                "DeviceDataCtrlr",
                "BytesPerMessage",
                str(BYTES_PER_MESSAGE),
                "integer",
                instance=message,
            )
        )

    # Metering and transactions
    add(_rw("SampledDataCtrlr", "Enabled", "true", "boolean"))
    add(
        _rw(
            "SampledDataCtrlr",
            "TxUpdatedMeasurands",
            MEASURANDS,
            "MemberList",
            values_list=MEASURANDS,
        )
    )
    add(
        _rw(
            "SampledDataCtrlr",
            "TxUpdatedInterval",
            "",
            "integer",
            unit="s",
            min_limit=1,
            read=lambda: s._read_interval("MeterValueSampleInterval") or "",
            write=lambda v: s._write_interval("MeterValueSampleInterval", v),
        )
    )
    add(
        _rw("SampledDataCtrlr", "TxStartedMeasurands", ENERGY, "MemberList", values_list=MEASURANDS)
    )
    add(_rw("SampledDataCtrlr", "TxEndedMeasurands", ENERGY, "MemberList", values_list=MEASURANDS))
    add(_rw("SampledDataCtrlr", "TxEndedInterval", "0", "integer", unit="s"))
    add(_rw("TxCtrlr", "EVConnectionTimeOut", "60", "integer", unit="s"))
    add(_rw("TxCtrlr", "StopTxOnEVSideDisconnect", "true", "boolean"))
    add(_rw("TxCtrlr", "StopTxOnInvalidId", "true", "boolean"))
    add(
        _rw(
            "TxCtrlr", "TxStartPoint", "Authorized,EVConnected", "MemberList", values_list=TX_POINTS
        )
    )
    add(
        _rw("TxCtrlr", "TxStopPoint", "Authorized,EVConnected", "MemberList", values_list=TX_POINTS)
    )

    # Security
    add(_ro("SecurityCtrlr", "Identity", s.charger_id))
    add(_rw("SecurityCtrlr", "OrganizationName", s.vendor))
    add(_ro("SecurityCtrlr", "SecurityProfile", str(s.security_profile), "integer"))
    add(
        _ro(
            "SecurityCtrlr",
            "CertificateEntries",
            "",
            "integer",
            read=lambda: str(
                sum(1 for c in s.certificates.installed if c.use != STATION_CERTIFICATE)
            ),
        )
    )
    add(
        Variable(
            "SecurityCtrlr",
            "BasicAuthPassword",
            "",
            WRITE_ONLY,
            "string",
            supports_monitoring=False,
        )
    )

    # Reservations, smart charging, display, monitoring
    flag_true("ReservationCtrlr")
    add(_ro("ReservationCtrlr", "NonEvseSpecific", "true", "boolean"))
    flag_true("SmartChargingCtrlr")
    add(
        _ro(
            "SmartChargingCtrlr",
            "Entries",
            "",
            "integer",
            instance="ChargingProfiles",
            read=lambda: str(len(s.profiles.profiles)),
        )
    )
    add(_rw("SmartChargingCtrlr", "LimitChangeSignificance", "1.0", "decimal"))
    add(_ro("SmartChargingCtrlr", "PeriodsPerSchedule", str(PERIODS_PER_SCHEDULE), "integer"))
    add(_ro("SmartChargingCtrlr", "ProfileStackLevel", str(PROFILE_STACK_LEVEL), "integer"))
    add(_ro("SmartChargingCtrlr", "RateUnit", "A,W", "MemberList"))
    flag_true("DisplayMessageCtrlr")
    add(
        _ro(
            "DisplayMessageCtrlr",
            "DisplayMessages",
            "",
            "integer",
            max_limit=MAX_MESSAGES,
            read=lambda: str(len(s.display.messages)),
        )
    )
    add(_ro("DisplayMessageCtrlr", "SupportedFormats", ",".join(SUPPORTED_FORMATS), "MemberList"))
    add(
        _ro(
            "DisplayMessageCtrlr",
            "SupportedPriorities",
            ",".join(SUPPORTED_PRIORITIES),
            "MemberList",
        )
    )
    flag_true("MonitoringCtrlr")
    add(
        _ro(
            "MonitoringCtrlr",
            "ActiveMonitoringBase",
            "",
            "OptionList",
            values_list="All,FactoryDefault,HardWiredOnly",
            read=lambda: s.monitors.base,
        )
    )
    add(
        _ro(
            "MonitoringCtrlr",
            "ActiveMonitoringLevel",
            "",
            "integer",
            min_limit=0,
            max_limit=9,
            read=lambda: str(s.monitors.level),
        )
    )
    return model
