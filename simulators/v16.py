"""A simulated OCPP 1.6J charge point, with all six feature profiles: Core, FirmwareManagement,
LocalAuthListManagement, Reservation, SmartCharging and RemoteTrigger."""

from __future__ import annotations

import asyncio
import time
from typing import ClassVar

from shared.framing import Payload
from simulators import transfers
from simulators.charger import SimCharger, Transaction
from simulators.clock import iso, iso_now, parse_iso
from simulators.config16 import (
    ENERGY,
    LOCAL_LIST_MAX,
    MAX_PERIODS,
    MAX_PROFILES,
    MAX_STACK_LEVEL,
    POWER,
    SEND_LOCAL_LIST_MAX,
    Configuration,
    Key,
    standard_keys,
)
from simulators.local_list import LocalAuthList, locally_authorized
from simulators.reservations import Reservation
from simulators.smart_charging import TX_PROFILE, Period, ProfileStore, profile_16

# The messages TriggerMessage may ask for, per the 1.6 schema.
_TRIGGERABLE = frozenset(
    {
        "BootNotification",
        "DiagnosticsStatusNotification",
        "FirmwareStatusNotification",
        "Heartbeat",
        "MeterValues",
        "StatusNotification",
    }
)


class SimCharger16(SimCharger):
    """An OCPP 1.6J charge point with `connectors` connectors plus connector 0."""

    PROTOCOL: ClassVar[str] = "ocpp1.6"
    STATUS_ZERO: ClassVar[bool] = True
    FORMAT_VIOLATION: ClassVar[str] = "FormationViolation"

    def _setup(self) -> None:
        keys = standard_keys(self.connectors)
        # The two intervals are the charger's live attributes.
        for name in ("HeartbeatInterval", "MeterValueSampleInterval"):
            keys[name] = self._interval_key(name)
        self.configuration = Configuration(keys)
        self.local_list: LocalAuthList[str] = LocalAuthList(LOCAL_LIST_MAX, SEND_LOCAL_LIST_MAX)
        self.profiles = ProfileStore(self.connectors, MAX_STACK_LEVEL, MAX_PERIODS, MAX_PROFILES)
        self.firmware_status = "Idle"
        self.diagnostics_status = "Idle"
        self.handlers.update(
            {
                "CancelReservation": self.on_cancel_reservation,
                "ChangeAvailability": self.on_change_availability,
                "ChangeConfiguration": self.on_change_configuration,
                # There is no authorization cache to clear (AuthorizationCacheEnabled is false).
                "ClearCache": lambda _: {"status": "Accepted"},
                "ClearChargingProfile": self.on_clear_charging_profile,
                # No vendor extensions are simulated.
                "DataTransfer": lambda _: {"status": "UnknownVendorId"},
                "GetCompositeSchedule": self.on_get_composite_schedule,
                "GetConfiguration": self.on_get_configuration,
                "GetDiagnostics": self.on_get_diagnostics,
                "GetLocalListVersion": lambda _: {"listVersion": self.local_list.version},
                "RemoteStartTransaction": self.on_remote_start,
                "RemoteStopTransaction": self.on_remote_stop,
                "ReserveNow": self.on_reserve_now,
                "Reset": self.on_reset,
                "SendLocalList": self.on_send_local_list,
                "SetChargingProfile": self.on_set_charging_profile,
                "TriggerMessage": self.on_trigger_message,
                "UnlockConnector": self.on_unlock_connector,
                "UpdateFirmware": self.on_update_firmware,
            }
        )

    def _interval_key(self, name: str) -> Key:
        def read() -> str:
            return self._read_interval(name) or ""

        def write(value: str) -> bool:
            return self._write_interval(name, value)

        return Key("", kind="int", read=read, write=write)

    # ----------------------------------------------------------- outgoing messages

    def boot_payload(self) -> Payload:
        return {
            "chargePointVendor": self.vendor,
            "chargePointModel": self.model,
            "firmwareVersion": self.firmware_version,
        }

    async def authorize(self, id_tag: str) -> str:
        if self.configuration.flag("LocalAuthListEnabled"):
            listed = self.local_list.status(id_tag, time.time(), "expiryDate")
            if locally_authorized(
                listed,
                self.booted,
                self.configuration.flag("LocalPreAuthorize"),
                self.configuration.flag("LocalAuthorizeOffline"),
            ):
                assert listed is not None
                return listed
        response = await self.call("Authorize", {"idTag": id_tag})
        return str(response["idTagInfo"]["status"])

    async def send_status(self, connector: int) -> None:
        await self.call(
            "StatusNotification",
            {
                "connectorId": connector,
                "errorCode": "NoError",
                "status": self.connector_status[connector],
                "timestamp": iso_now(),
            },
        )

    async def send_meter_values(self, tx: Transaction) -> None:
        await self.call("MeterValues", self._meter_values(tx.connector, "Sample.Periodic"))

    async def send_idle_report(self, connector: int) -> None:
        await self.send_status(connector)
        await self.call("MeterValues", self._meter_values(connector, "Sample.Clock"))

    def _meter_values(self, connector: int, context: str) -> Payload:
        now = iso_now()
        sampled = [
            {
                "value": f"{self.meters[connector]:.1f}",
                "context": context,
                "measurand": ENERGY,
                "unit": "Wh",
            }
        ]
        payload: Payload = {"connectorId": connector}
        tx = self.transactions.get(connector)
        if tx is not None and isinstance(tx.id, int):
            payload["transactionId"] = tx.id
        if tx is not None and tx.charging:
            sampled.append(
                {
                    "value": f"{self.power_w:.0f}",
                    "context": context,
                    "measurand": POWER,
                    "unit": "W",
                }
            )
        payload["meterValue"] = [{"timestamp": now, "sampledValue": sampled}]
        return payload

    async def _begin(self, tx: Transaction) -> None:
        c = tx.connector
        start: Payload = {
            "connectorId": c,
            "idTag": tx.id_tag,
            "meterStart": int(self.meters[c]),
            "timestamp": iso_now(),
        }
        if tx.reservation_id is not None:
            start["reservationId"] = tx.reservation_id
        async with self._undo_on_failure(tx):
            await self.set_status(c, "Preparing")
            response = await self.call("StartTransaction", start)
        tx.id = response.get("transactionId")
        if self.transactions.get(c) is not tx:
            return  # stopped while starting
        if response.get("idTagInfo", {}).get("status") != "Accepted":
            # StopTransactionOnInvalidId: the charge point ends a session it may not run.
            await self.stop_transaction(c, "DeAuthorized")
            return
        tx.charging = True
        await self.set_status(c, "Charging")

    async def _end(self, tx: Transaction, reason: str) -> None:
        c = tx.connector
        try:
            await self._after_start(tx)
            if isinstance(tx.id, int):
                await self.call(
                    "StopTransaction",
                    {
                        "transactionId": tx.id,
                        "meterStop": int(self.meters[c]),
                        "timestamp": iso_now(),
                        "reason": reason,
                        "idTag": tx.id_tag,
                    },
                )
            await self.set_status(c, "Finishing")
            await self.set_status(c, self.idle_status(c))
        finally:
            self._ended(tx)

    # -------------------------------------------------------- handlers (csms -> us)

    def on_remote_start(self, payload: Payload) -> Payload:
        id_tag = payload["idTag"]
        connector = payload.get("connectorId", 1)
        profile = payload.get("chargingProfile")
        if not self.can_start(connector, id_tag):
            return {"status": "Rejected"}
        if profile is not None:
            # The profile of the session to start: a TxProfile, stored as the session begins.
            if profile["chargingProfilePurpose"] != TX_PROFILE:
                return {"status": "Rejected"}
            stored = self.profiles.install(
                profile_16(profile, connector, time.time()), {connector: None}
            )
            if stored != "Accepted":
                return {"status": "Rejected"}
        tx = self._open_transaction(connector, id_tag, remote=True)
        self.after_reply(self._begin(tx))
        return {"status": "Accepted"}

    def on_remote_stop(self, payload: Payload) -> Payload:
        found = self._remote_stop(payload["transactionId"], "Remote")
        return {"status": "Accepted" if found else "Rejected"}

    def on_change_availability(self, payload: Payload) -> Payload:
        connector = payload["connectorId"]
        operative = payload["type"] == "Operative"
        if connector == 0:
            status = self._change_availability(self.connector_ids(), True, operative)
        elif connector in self.meters:
            status = self._change_availability([connector], False, operative)
        else:
            status = "Rejected"
        return {"status": status}

    def on_reset(self, payload: Payload) -> Payload:
        reason = "HardReset" if payload["type"] == "Hard" else "SoftReset"
        self.after_reply(self._reset(reason))
        return {"status": "Accepted"}

    def on_unlock_connector(self, payload: Payload) -> Payload:
        connector = payload["connectorId"]
        if connector not in self.meters:
            return {"status": "UnlockFailed"}  # connector 0 or one this charger lacks
        # A session on the connector ends first, as the cable is pulled.
        self._stop_after_reply(connector, "UnlockCommand")
        return {"status": "Unlocked"}

    def on_trigger_message(self, payload: Payload) -> Payload:
        message = payload["requestedMessage"]
        connector = payload.get("connectorId")
        if message not in _TRIGGERABLE:
            return {"status": "NotImplemented"}
        if connector is not None and connector not in self.connector_status:
            return {"status": "Rejected"}
        self.after_reply(self._send_triggered(message, connector))
        return {"status": "Accepted"}

    async def _send_triggered(self, message: str, connector: int | None) -> None:
        if message == "BootNotification":
            self._on_boot_response(await self.call("BootNotification", self.boot_payload()))
        elif message == "Heartbeat":
            await self.call("Heartbeat", {})
        elif message == "StatusNotification":
            for c in self.status_ids() if connector is None else [connector]:
                await self.send_status(c)
        elif message == "MeterValues":
            for c in self.connector_ids() if not connector else [connector]:
                await self.call("MeterValues", self._meter_values(c, "Trigger"))
        elif message == "FirmwareStatusNotification":
            await self.call(message, {"status": self.firmware_status})
        else:
            await self.call(message, {"status": self.diagnostics_status})

    # Core: configuration

    def on_get_configuration(self, payload: Payload) -> Payload:
        wanted: list[str] = payload.get("key") or list(self.configuration)
        known: list[Payload] = []
        unknown: list[str] = []
        for key in wanted:
            item = self.configuration.item(key)
            if item is None:
                unknown.append(key)
            else:
                known.append(item)
        result: Payload = {"configurationKey": known}
        if unknown:
            result["unknownKey"] = unknown
        return result

    def on_change_configuration(self, payload: Payload) -> Payload:
        return {"status": self.configuration.change(payload["key"], payload["value"])}

    # LocalAuthListManagement

    def on_send_local_list(self, payload: Payload) -> Payload:
        if not self.configuration.flag("LocalAuthListEnabled"):
            return {"status": "NotSupported"}
        changes = [
            (entry["idTag"], entry.get("idTagInfo"))
            for entry in payload.get("localAuthorizationList", [])
        ]
        status = self.local_list.update(payload["updateType"], payload["listVersion"], changes)
        return {"status": status}

    # Reservation

    def on_reserve_now(self, payload: Payload) -> Payload:
        connector = payload["connectorId"]
        if connector == 0 and not self.configuration.flag("ReserveConnectorZeroSupported"):
            return {"status": "Rejected"}
        reservation = Reservation(
            payload["reservationId"], connector, payload["idTag"], parse_iso(payload["expiryDate"])
        )
        return {"status": self._reserve(reservation)}

    def on_cancel_reservation(self, payload: Payload) -> Payload:
        found = self._cancel_reservation(payload["reservationId"])
        return {"status": "Accepted" if found else "Rejected"}

    # SmartCharging

    def on_set_charging_profile(self, payload: Payload) -> Payload:
        profile = profile_16(payload["csChargingProfiles"], payload["connectorId"], time.time())
        running = {c: tx.id for c, tx in self.transactions.items()}
        return {"status": self.profiles.install(profile, running)}

    def on_clear_charging_profile(self, payload: Payload) -> Payload:
        found = self.profiles.clear(
            payload.get("id"),
            payload.get("connectorId"),
            payload.get("chargingProfilePurpose"),
            payload.get("stackLevel"),
        )
        return {"status": "Accepted" if found else "Unknown"}

    def on_get_composite_schedule(self, payload: Payload) -> Payload:
        connector, duration, now = payload["connectorId"], payload["duration"], time.time()
        composite = self._composite(connector, duration, payload.get("chargingRateUnit"), now)
        if composite is None:
            return {"status": "Rejected"}
        unit, periods = composite
        return {
            "status": "Accepted",
            "connectorId": connector,
            "scheduleStart": iso(now),
            "chargingSchedule": {
                "duration": duration,
                "startSchedule": iso(now),
                "chargingRateUnit": unit,
                "chargingSchedulePeriod": [_period(p) for p in periods],
            },
        }

    # FirmwareManagement

    def on_update_firmware(self, payload: Payload) -> Payload:
        retrieve_at = parse_iso(payload["retrieveDate"])
        version = transfers.firmware_version(payload["location"], self.firmware_version)
        self._start_job("firmware", lambda: self._update_firmware(retrieve_at, version))
        return {}

    async def _update_firmware(self, retrieve_at: float, version: str) -> None:
        """Download and install, then reboot into the new version."""
        try:
            await self._sleep_until(retrieve_at)
            await self._firmware_status("Downloading")
            await asyncio.sleep(self.step_delay)
            await self._firmware_status("Downloaded")
            # Installing restarts the charger: not in the middle of someone's session.
            await self._until_idle()
            await self._firmware_status("Installing")
            await asyncio.sleep(self.step_delay)
            self.firmware_version = version
            await self._firmware_status("Installed")
        finally:
            self.firmware_status = "Idle"
        await self._reset("Reboot")

    async def _firmware_status(self, status: str) -> None:
        self.firmware_status = status
        await self.call("FirmwareStatusNotification", {"status": status})

    def on_get_diagnostics(self, payload: Payload) -> Payload:
        name = transfers.log_file_name("diagnostics", self.charger_id, time.time())
        self._start_job("diagnostics", self._upload_diagnostics)
        return {"fileName": name}

    async def _upload_diagnostics(self) -> None:
        try:
            await self._diagnostics_status("Uploading")
            await asyncio.sleep(self.step_delay)
            await self._diagnostics_status("Uploaded")
        finally:
            self.diagnostics_status = "Idle"

    async def _diagnostics_status(self, status: str) -> None:
        self.diagnostics_status = status
        await self.call("DiagnosticsStatusNotification", {"status": status})


def _period(period: Period) -> Payload:
    # 1.6 limits are multiples of 0.1.
    out: Payload = {"startPeriod": period.start, "limit": round(period.limit, 1)}
    if period.phases is not None:
        out["numberPhases"] = period.phases
    return out
