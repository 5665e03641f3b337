"""A simulated OCPP 2.0.1 charging station (one connector per EVSE) that answers every message a
central system can send it."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import ClassVar

from shared.framing import Payload
from simulators import signing, station_model, transfers
from simulators.certificates import (
    STATION_CERTIFICATE,
    V2G_CERTIFICATE,
    BadCertificate,
    CertificateStore,
    read_pem,
)
from simulators.charger import SimCharger, Transaction
from simulators.clock import iso, iso_now, parse_iso
from simulators.device_model import notify_report_frames
from simulators.display_messages import DisplayMessages
from simulators.local_list import LocalAuthList, locally_authorized
from simulators.monitoring import Monitors, notify_monitoring_frames
from simulators.reservations import Reservation
from simulators.smart_charging import SOURCE, TX_PROFILE, Period, ProfileStore, profile_201

ENERGY = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"

# TransactionEvent triggerReason for each way a session can end.
_STOP_TRIGGER = {
    "Remote": "RemoteStop",
    "Local": "StopAuthorized",
    "DeAuthorized": "Deauthorized",
    "ImmediateReset": "ResetCommand",
    "Reboot": "ResetCommand",
    "EVDisconnected": "EVDeparted",
}
# Network configuration slots; the one in use (0, the URL the station was given) stays as it is.
_ACTIVE_SLOT = 0
_SLOTS = range(0, 3)
# The messages a TriggerMessage may ask for that the station sends as they are.
_TRIGGERABLE = frozenset(
    {
        "BootNotification",
        "FirmwareStatusNotification",
        "Heartbeat",
        "LogStatusNotification",
        "MeterValues",
        "PublishFirmwareStatusNotification",
        "StatusNotification",
    }
)
# The certificates a TriggerMessage has the station ask to be signed (SignCertificate).
_SIGN = {
    "SignChargingStationCertificate": (STATION_CERTIFICATE,),
    "SignV2GCertificate": (V2G_CERTIFICATE,),
    "SignCombinedCertificate": (STATION_CERTIFICATE, V2G_CERTIFICATE),
}
# The publish statuses of a firmware not yet published.
_PUBLISHING = frozenset({"DownloadScheduled", "Downloading", "Downloaded", "ChecksumVerified"})
# A local list identifier: the idToken and its type.
TokenKey = tuple[str, str]


class SimCharger201(SimCharger):
    """An OCPP 2.0.1 charging station with `connectors` EVSEs, each with connector 1."""

    PROTOCOL: ClassVar[str] = "ocpp2.0.1"
    FORMAT_VIOLATION: ClassVar[str] = "FormatViolation"

    def _setup(self) -> None:
        self.boot_reason = "PowerUp"
        self._reset_scheduled = False
        self.security_profile = 0 if self.password is None else 1
        self.local_list: LocalAuthList[TokenKey] = LocalAuthList(
            station_model.LOCAL_LIST_MAX, station_model.ITEMS_PER_MESSAGE
        )
        self.profiles = ProfileStore(
            self.connectors, station_model.PROFILE_STACK_LEVEL, station_model.PERIODS_PER_SCHEDULE
        )
        self.certificates = CertificateStore()
        # The public key of the last signing request sent, by certificate use.
        self.signing_keys: dict[str, bytes] = {}
        self.display = DisplayMessages()
        self.network_profiles: dict[int, Payload] = {}  # by configuration slot
        self.costs: dict[str, float] = {}  # CostUpdated, by transaction id
        self.firmware_status = "Idle"
        self.firmware_request_id: int | None = None
        self.log_status = "Idle"
        self.log_request_id: int | None = None
        self.publish_status = "Idle"
        self.publish_request_id: int | None = None
        self.published: str | None = None  # the checksum of the firmware published
        self.device_model = station_model.build(self)
        self.monitors = Monitors(self.device_model)
        self.handlers.update(
            {
                "CancelReservation": self.on_cancel_reservation,
                "CertificateSigned": self.on_certificate_signed,
                "ChangeAvailability": self.on_change_availability,
                # There is no authorization cache to clear.
                "ClearCache": lambda _: {"status": "Accepted"},
                "ClearChargingProfile": self.on_clear_charging_profile,
                "ClearDisplayMessage": lambda p: {"status": self.display.clear(p["id"])},
                "ClearVariableMonitoring": lambda p: {
                    "clearMonitoringResult": [self.monitors.clear(i) for i in p["id"]]
                },
                "CostUpdated": self.on_cost_updated,
                "CustomerInformation": self.on_customer_information,
                # No vendor extensions are simulated.
                "DataTransfer": lambda _: {"status": "UnknownVendorId"},
                "DeleteCertificate": lambda p: {
                    "status": self.certificates.delete(p["certificateHashData"])
                },
                "GetBaseReport": self.on_get_base_report,
                "GetChargingProfiles": self.on_get_charging_profiles,
                "GetCompositeSchedule": self.on_get_composite_schedule,
                "GetDisplayMessages": self.on_get_display_messages,
                "GetInstalledCertificateIds": self.on_get_installed_certificate_ids,
                "GetLocalListVersion": lambda _: {"versionNumber": self.local_list.version},
                "GetLog": self.on_get_log,
                "GetMonitoringReport": self.on_get_monitoring_report,
                "GetReport": self.on_get_report,
                "GetTransactionStatus": self.on_get_transaction_status,
                "GetVariables": lambda p: {
                    "getVariableResult": [self.device_model.get(i) for i in p["getVariableData"]]
                },
                "InstallCertificate": lambda p: {
                    "status": self.certificates.install(p["certificateType"], p["certificate"])
                },
                "PublishFirmware": self.on_publish_firmware,
                "RequestStartTransaction": self.on_request_start,
                "RequestStopTransaction": self.on_request_stop,
                "ReserveNow": self.on_reserve_now,
                "Reset": self.on_reset,
                "SendLocalList": self.on_send_local_list,
                "SetChargingProfile": self.on_set_charging_profile,
                "SetDisplayMessage": self.on_set_display_message,
                "SetMonitoringBase": lambda p: {
                    "status": self.monitors.set_base(p["monitoringBase"])
                },
                "SetMonitoringLevel": lambda p: {"status": self.monitors.set_level(p["severity"])},
                "SetNetworkProfile": self.on_set_network_profile,
                "SetVariableMonitoring": lambda p: {
                    "setMonitoringResult": [self.monitors.set(i) for i in p["setMonitoringData"]]
                },
                "SetVariables": lambda p: {
                    "setVariableResult": [self.device_model.set(i) for i in p["setVariableData"]]
                },
                "TriggerMessage": self.on_trigger_message,
                "UnlockConnector": self.on_unlock_connector,
                "UnpublishFirmware": self.on_unpublish_firmware,
                "UpdateFirmware": self.on_update_firmware,
            }
        )

    def power_now(self, evse: int) -> float:
        """The power drawn on an EVSE now, in W."""
        tx = self.transactions.get(evse)
        return self.power_w if tx is not None and tx.charging else 0.0

    # ----------------------------------------------------------- outgoing messages

    def boot_payload(self) -> Payload:
        return {
            "chargingStation": {
                "model": self.model,
                "vendorName": self.vendor,
                "firmwareVersion": self.firmware_version,
            },
            "reason": self.boot_reason,
        }

    def _on_boot_response(self, response: Payload) -> None:
        super()._on_boot_response(response)
        if response.get("status") == "Accepted":
            # Later boots on a new connection are not power-ups.
            self.boot_reason = "Unknown"

    def _on_reset(self, boot_reason: str | None) -> None:
        self.boot_reason = boot_reason or "RemoteReset"

    async def authorize(self, id_tag: str) -> str:
        token = {"idToken": id_tag, "type": "ISO14443"}
        if self.device_model.flag("LocalAuthListCtrlr", "Enabled"):
            key = (id_tag, "ISO14443")
            listed = self.local_list.status(key, time.time(), "cacheExpiryDateTime")
            if locally_authorized(
                listed,
                self.booted,
                self.device_model.flag("AuthCtrlr", "LocalPreAuthorize"),
                self.device_model.flag("AuthCtrlr", "LocalAuthorizeOffline"),
            ):
                assert listed is not None
                return listed
        response = await self.call("Authorize", {"idToken": token})
        return str(response["idTokenInfo"]["status"])

    async def send_status(self, connector: int) -> None:
        await self.call(
            "StatusNotification",
            {
                "timestamp": iso_now(),
                "connectorStatus": self.connector_status[connector],
                "evseId": connector,
                "connectorId": 1,
            },
        )

    async def send_meter_values(self, tx: Transaction) -> None:
        await self.call(
            "TransactionEvent",
            self._event(tx, "Updated", "MeterValuePeriodic", "Charging", "Sample.Periodic"),
        )

    async def send_idle_report(self, connector: int) -> None:
        await self.send_status(connector)
        meter = self._meter_value(connector, "Sample.Clock", power=False)
        await self.call("MeterValues", {"evseId": connector, "meterValue": [meter]})

    def _meter_value(self, evse: int, context: str, power: bool) -> Payload:
        sampled: list[Payload] = [
            {
                "value": round(self.meters[evse], 1),
                "context": context,
                "measurand": ENERGY,
                "unitOfMeasure": {"unit": "Wh"},
            }
        ]
        if power:
            sampled.append(
                {
                    "value": self.power_w,
                    "context": context,
                    "measurand": POWER,
                    "unitOfMeasure": {"unit": "W"},
                }
            )
        return {"timestamp": iso_now(), "sampledValue": sampled}

    def _event(
        self,
        tx: Transaction,
        event_type: str,
        trigger: str,
        charging_state: str,
        context: str,
        stopped_reason: str | None = None,
    ) -> Payload:
        """A TransactionEvent request; takes the next seqNo of the transaction."""
        info: Payload = {"transactionId": tx.id, "chargingState": charging_state}
        if stopped_reason is not None:
            info["stoppedReason"] = stopped_reason
        if event_type == "Started" and tx.remote_start_id is not None:
            info["remoteStartId"] = tx.remote_start_id
        event: Payload = {
            "eventType": event_type,
            "timestamp": iso_now(),
            "triggerReason": trigger,
            "seqNo": tx.seq_no,
            "transactionInfo": info,
            "evse": {"id": tx.connector, "connectorId": 1},
            "meterValue": [self._meter_value(tx.connector, context, power=tx.charging)],
        }
        if event_type == "Started":
            event["idToken"] = {"idToken": tx.id_tag, "type": tx.id_token_type}
            if tx.reservation_id is not None:
                event["reservationId"] = tx.reservation_id
        tx.seq_no += 1
        return event

    async def _begin(self, tx: Transaction) -> None:
        evse = tx.connector
        tx.id = str(uuid.uuid4())
        trigger = "RemoteStart" if tx.remote else "Authorized"
        async with self._undo_on_failure(tx):
            await self.set_status(evse, "Occupied")
            # Built right before the call so periodic Updated events queue behind Started.
            tx.charging = True
            started = self._event(tx, "Started", trigger, "Charging", "Transaction.Begin")
            response = await self.call("TransactionEvent", started)
        status = response.get("idTokenInfo", {}).get("status", "Accepted")
        if status != "Accepted" and self.transactions.get(evse) is tx:
            await self.stop_transaction(evse, "DeAuthorized")

    async def _end(self, tx: Transaction, reason: str) -> None:
        evse = tx.connector
        trigger = _STOP_TRIGGER.get(reason, "AbnormalCondition")
        try:
            await self._after_start(tx)
            # EVConnected: the session is over but the cable is still in until the status below.
            ended = self._event(tx, "Ended", trigger, "EVConnected", "Transaction.End", reason)
            await self.call("TransactionEvent", ended)
            await self.set_status(evse, self.idle_status(evse))
        finally:
            self._ended(tx)

    def _ended(self, tx: Transaction) -> None:
        super()._ended(tx)
        self.display.end_transaction(tx.id)

    async def _reservation_expired(self, reservation: Reservation) -> None:
        await self.call(
            "ReservationStatusUpdate",
            {"reservationId": reservation.id, "reservationUpdateStatus": "Expired"},
        )
        await super()._reservation_expired(reservation)

    # -------------------------------------------------------- handlers (csms -> us)

    # Transactions, availability, reset

    def on_request_start(self, payload: Payload) -> Payload:
        token = payload["idToken"]
        evse = payload.get("evseId", 1)
        profile = payload.get("chargingProfile")
        if not self.can_start(evse, token["idToken"]):
            return {"status": "Rejected"}
        if profile is not None:
            # The profile of the session to start: a TxProfile, stored as the session begins.
            if profile["chargingProfilePurpose"] != TX_PROFILE:
                return {"status": "Rejected"}
            stored = self.profiles.install(profile_201(profile, evse, time.time()), {evse: None})
            if stored != "Accepted":
                return {"status": "Rejected"}
        tx = self._open_transaction(
            evse,
            token["idToken"],
            remote=True,
            id_token_type=token["type"],
            remote_start_id=payload["remoteStartId"],
        )
        self.after_reply(self._begin(tx))
        return {"status": "Accepted"}

    def on_request_stop(self, payload: Payload) -> Payload:
        found = self._remote_stop(payload["transactionId"], "Remote")
        return {"status": "Accepted" if found else "Rejected"}

    def on_get_transaction_status(self, payload: Payload) -> Payload:
        # Every message is sent at once and waited for: none is ever queued.
        result: Payload = {"messagesInQueue": False}
        transaction_id = payload.get("transactionId")
        if transaction_id is not None:
            result["ongoingIndicator"] = any(
                tx.id == transaction_id for tx in self.transactions.values()
            )
        return result

    def on_cost_updated(self, payload: Payload) -> Payload:
        self.costs[payload["transactionId"]] = payload["totalCost"]
        return {}

    def on_change_availability(self, payload: Payload) -> Payload:
        operative = payload["operationalStatus"] == "Operative"
        evse = payload.get("evse", {}).get("id", 0)
        if evse == 0:
            status = self._change_availability(self.connector_ids(), True, operative)
        elif evse in self.meters:
            status = self._change_availability([evse], False, operative)
        else:
            status = "Rejected"
        return {"status": status}

    def on_reset(self, payload: Payload) -> Payload:
        if payload.get("evseId") is not None:
            return {"status": "Rejected"}  # resetting one EVSE is not simulated
        if payload["type"] == "OnIdle" and self.transactions:
            if not self._reset_scheduled:
                self._reset_scheduled = True
                self.after_reply(self._reset_when_idle())
            return {"status": "Scheduled"}
        self.after_reply(self._reset("ImmediateReset"))
        return {"status": "Accepted"}

    async def _reset_when_idle(self) -> None:
        try:
            await self._until_idle()
        finally:
            self._reset_scheduled = False
        await self._reset("ImmediateReset")

    def on_unlock_connector(self, payload: Payload) -> Payload:
        evse = payload["evseId"]
        if evse not in self.meters or payload["connectorId"] != 1:
            return {"status": "UnknownConnector"}
        if evse in self.transactions:
            return {"status": "OngoingAuthorizedTransaction"}
        return {"status": "Unlocked"}

    def on_trigger_message(self, payload: Payload) -> Payload:
        message = payload["requestedMessage"]
        evse = payload.get("evse", {}).get("id")
        if evse is not None and evse not in self.meters:
            return {"status": "Rejected"}
        evses = list(self.connector_ids()) if evse is None else [evse]
        if message in _SIGN:
            if not signing.available():
                return {"status": "NotImplemented"}
            self.after_reply(self._request_signing(_SIGN[message]))
        elif message == "TransactionEvent":
            txs = [self.transactions[e] for e in evses if e in self.transactions]
            if not txs:
                return {"status": "Rejected"}
            self.after_reply(self._send_tx_updates(txs))
        elif message in _TRIGGERABLE:
            self.after_reply(self._send_triggered(message, evses))
        else:
            return {"status": "NotImplemented"}
        return {"status": "Accepted"}

    async def _request_signing(self, uses: tuple[str, ...]) -> None:
        organization = self.device_model.lookup("SecurityCtrlr", "OrganizationName").current()
        for use in uses:
            request = signing.make_request(self.charger_id, organization)
            self.signing_keys[use] = request.public_key
            await self.call("SignCertificate", {"csr": request.csr, "certificateType": use})

    async def _send_tx_updates(self, txs: list[Transaction]) -> None:
        for tx in txs:
            state = "Charging" if tx.charging else "EVConnected"
            await self.call(
                "TransactionEvent", self._event(tx, "Updated", "Trigger", state, "Trigger")
            )

    async def _send_triggered(self, message: str, evses: list[int]) -> None:
        if message == "BootNotification":
            payload = {**self.boot_payload(), "reason": "Triggered"}
            self._on_boot_response(await self.call("BootNotification", payload))
        elif message == "Heartbeat":
            await self.call("Heartbeat", {})
        elif message == "StatusNotification":
            for evse in evses:
                await self.send_status(evse)
        elif message == "MeterValues":
            for evse in evses:
                tx = self.transactions.get(evse)
                meter = self._meter_value(evse, "Trigger", power=tx is not None and tx.charging)
                await self.call("MeterValues", {"evseId": evse, "meterValue": [meter]})
        elif message == "FirmwareStatusNotification":
            await self.call(message, _status(self.firmware_status, self.firmware_request_id))
        elif message == "LogStatusNotification":
            await self.call(message, _status(self.log_status, self.log_request_id))
        elif message == "PublishFirmwareStatusNotification":
            await self.call(message, self._publish_payload(self.publish_status))

    # Device model: variables, reports, monitoring

    def on_get_base_report(self, payload: Payload) -> Payload:
        variables = self.device_model.base_report(payload["reportBase"])
        frames = notify_report_frames(payload["requestId"], variables, iso_now())
        self.after_reply(self._send_all(("NotifyReport", f) for f in frames))
        return {"status": "Accepted"}

    def on_get_report(self, payload: Payload) -> Payload:
        variables = self.device_model.select(
            payload.get("componentVariable"), payload.get("componentCriteria")
        )
        if not variables:
            return {"status": "EmptyResultSet"}
        frames = notify_report_frames(payload["requestId"], variables, iso_now())
        self.after_reply(self._send_all(("NotifyReport", f) for f in frames))
        return {"status": "Accepted"}

    def on_get_monitoring_report(self, payload: Payload) -> Payload:
        found = self.monitors.select(
            payload.get("componentVariable"), payload.get("monitoringCriteria")
        )
        if not found:
            return {"status": "EmptyResultSet"}
        frames = notify_monitoring_frames(payload["requestId"], found, iso_now())
        self.after_reply(self._send_all(("NotifyMonitoringReport", f) for f in frames))
        return {"status": "Accepted"}

    def on_set_network_profile(self, payload: Payload) -> Payload:
        slot = payload["configurationSlot"]
        data = payload["connectionData"]
        # The slot in use cannot be overwritten, nor the security lowered (B09.FR.04).
        if slot not in _SLOTS or slot == _ACTIVE_SLOT:
            return {"status": "Rejected"}
        if data["securityProfile"] < self.security_profile:
            return {"status": "Rejected"}
        self.network_profiles[slot] = data
        return {"status": "Accepted"}

    # Authorization: local list, customer information

    def on_send_local_list(self, payload: Payload) -> Payload:
        if not self.device_model.flag("LocalAuthListCtrlr", "Enabled"):
            return {"status": "Failed"}
        changes = [
            ((entry["idToken"]["idToken"], entry["idToken"]["type"]), entry.get("idTokenInfo"))
            for entry in payload.get("localAuthorizationList", [])
        ]
        status = self.local_list.update(payload["updateType"], payload["versionNumber"], changes)
        return {"status": status}

    def on_customer_information(self, payload: Payload) -> Payload:
        token = payload.get("idToken")
        identifier = payload.get("customerIdentifier")
        certificate = payload.get("customerCertificate")
        if token is None and identifier is None and certificate is None:
            return {"status": "Invalid"}  # no customer named
        facts: list[str] = []
        if payload["report"]:
            if token is not None:
                listed = self.local_list.entries.get((token["idToken"], token["type"]))
                status = "not listed" if listed is None else listed["status"]
                sessions = sum(
                    1 for tx in self.transactions.values() if tx.id_tag == token["idToken"]
                )
                facts.append(
                    f"idToken {token['idToken']}: local list {status}, {sessions} session(s)"
                )
            if identifier is not None:
                facts.append(f"customer {identifier}: no data held")
            if certificate is not None:
                facts.append(f"certificate {certificate['serialNumber']}: no data held")
        if payload["clear"]:
            # Only the authorization cache would hold customer data here, and there is none;
            # the local list is the central system's to change (SendLocalList).
            facts.append("customer data cleared")
        data = ("; ".join(facts) or "no customer data")[:512]
        frame = {
            "data": data,
            "seqNo": 0,
            "generatedAt": iso_now(),
            "requestId": payload["requestId"],
        }
        self.after_reply(self.call("NotifyCustomerInformation", frame))
        return {"status": "Accepted"}

    # Reservations

    def on_reserve_now(self, payload: Payload) -> Payload:
        if not self.device_model.flag("ReservationCtrlr", "Enabled"):
            return {"status": "Rejected"}
        evse = payload.get("evseId")
        if evse is None:
            # Any EVSE: the first free one is held (else the answer says why EVSE 1 is not).
            free = [e for e in self.connector_ids() if self.connector_status[e] == "Available"]
            evse = free[0] if free else 1
        reservation = Reservation(
            payload["id"],
            evse,
            payload["idToken"]["idToken"],
            parse_iso(payload["expiryDateTime"]),
        )
        return {"status": self._reserve(reservation)}

    def on_cancel_reservation(self, payload: Payload) -> Payload:
        found = self._cancel_reservation(payload["reservationId"])
        return {"status": "Accepted" if found else "Rejected"}

    # Smart charging

    def on_set_charging_profile(self, payload: Payload) -> Payload:
        profile = profile_201(payload["chargingProfile"], payload["evseId"], time.time())
        running = {e: tx.id for e, tx in self.transactions.items()}
        return {"status": self.profiles.install(profile, running, need_tx_id=True)}

    def on_clear_charging_profile(self, payload: Payload) -> Payload:
        criteria = payload.get("chargingProfileCriteria", {})
        found = self.profiles.clear(
            payload.get("chargingProfileId"),
            criteria.get("evseId"),
            criteria.get("chargingProfilePurpose"),
            criteria.get("stackLevel"),
        )
        return {"status": "Accepted" if found else "Unknown"}

    def on_get_charging_profiles(self, payload: Payload) -> Payload:
        criterion = payload["chargingProfile"]
        found = self.profiles.select(
            payload.get("evseId"),
            criterion.get("chargingProfilePurpose"),
            criterion.get("stackLevel"),
            criterion.get("chargingProfileId"),
            criterion.get("chargingLimitSource"),
        )
        if not found:
            return {"status": "NoProfiles"}
        evses = sorted({p.connector for p in found})
        frames = []
        for n, evse in enumerate(evses):
            frame: Payload = {
                "requestId": payload["requestId"],
                "chargingLimitSource": SOURCE,
                "evseId": evse,
                "chargingProfile": [p.raw for p in found if p.connector == evse],
            }
            if n < len(evses) - 1:
                frame["tbc"] = True
            frames.append(("ReportChargingProfiles", frame))
        self.after_reply(self._send_all(frames))
        return {"status": "Accepted"}

    def on_get_composite_schedule(self, payload: Payload) -> Payload:
        evse, duration, now = payload["evseId"], payload["duration"], time.time()
        composite = self._composite(evse, duration, payload.get("chargingRateUnit"), now)
        if composite is None:
            return {"status": "Rejected"}
        unit, periods = composite
        return {
            "status": "Accepted",
            "schedule": {
                "evseId": evse,
                "duration": duration,
                "scheduleStart": iso(now),
                "chargingRateUnit": unit,
                "chargingSchedulePeriod": [_period(p) for p in periods],
            },
        }

    # Display messages

    def on_set_display_message(self, payload: Payload) -> Payload:
        running = {tx.id for tx in self.transactions.values()}
        return {"status": self.display.set(payload["message"], running)}

    def on_get_display_messages(self, payload: Payload) -> Payload:
        found = self.display.select(
            payload.get("id"), payload.get("priority"), payload.get("state")
        )
        if not found:
            return {"status": "Unknown"}
        frame = {"requestId": payload["requestId"], "messageInfo": found}
        self.after_reply(self.call("NotifyDisplayMessages", frame))
        return {"status": "Accepted"}

    # Security: certificates

    def on_certificate_signed(self, payload: Payload) -> Payload:
        use = payload.get("certificateType", STATION_CERTIFICATE)
        key = self.signing_keys.get(use)
        status = self.certificates.signed(payload["certificateChain"], use, key)
        if status == "Accepted":
            self.signing_keys.pop(use, None)
        return {"status": status}

    def on_get_installed_certificate_ids(self, payload: Payload) -> Payload:
        found = self.certificates.ids(payload.get("certificateType"))
        if not found:
            return {"status": "NotFound"}
        return {"status": "Accepted", "certificateHashDataChain": found}

    # Firmware and logs

    def on_update_firmware(self, payload: Payload) -> Payload:
        firmware = payload["firmware"]
        certificate = firmware.get("signingCertificate")
        if certificate is not None:
            try:
                read_pem(certificate)
            except BadCertificate:
                return {"status": "InvalidCertificate"}
        retrieve_at = parse_iso(firmware["retrieveDateTime"])
        install = firmware.get("installDateTime")
        install_at = None if install is None else parse_iso(install)
        version = transfers.firmware_version(firmware["location"], self.firmware_version)
        request_id = payload["requestId"]
        signed = "signature" in firmware
        cancelled = self._start_job(
            "firmware",
            lambda: self._update_firmware(request_id, retrieve_at, install_at, version, signed),
        )
        return {"status": "AcceptedCanceled" if cancelled else "Accepted"}

    async def _update_firmware(
        self,
        request_id: int,
        retrieve_at: float,
        install_at: float | None,
        version: str,
        signed: bool,
    ) -> None:
        """Download, verify and install, then reboot into the new version and report it
        installed once booted (L01)."""
        self.firmware_request_id = request_id
        try:
            if retrieve_at > time.time():
                await self._firmware_status("DownloadScheduled")
                await self._sleep_until(retrieve_at)
            await self._firmware_status("Downloading")
            await asyncio.sleep(self.step_delay)
            await self._firmware_status("Downloaded")
            if signed:
                await self._firmware_status("SignatureVerified")
            if install_at is not None and install_at > time.time():
                await self._firmware_status("InstallScheduled")
                await self._sleep_until(install_at)
            # Installing restarts the station: not in the middle of someone's session.
            await self._until_idle()
            await self._firmware_status("Installing")
            await asyncio.sleep(self.step_delay)
            self.firmware_version = version
            await self._firmware_status("InstallRebooting")
        except BaseException:
            self.firmware_status = "Idle"
            raise
        self._after_boot.append(lambda: self._firmware_installed(request_id))
        await self._reset("Reboot", "FirmwareUpdate")

    async def _firmware_installed(self, request_id: int) -> None:
        try:
            await self._firmware_status("Installed")
        finally:
            self.firmware_status = "Idle"

    async def _firmware_status(self, status: str) -> None:
        self.firmware_status = status
        await self.call("FirmwareStatusNotification", _status(status, self.firmware_request_id))

    def on_get_log(self, payload: Payload) -> Payload:
        name = transfers.log_file_name(payload["logType"], self.charger_id, time.time())
        request_id = payload["requestId"]
        cancelled = self._start_job("log", lambda: self._upload_log(request_id))
        return {"status": "AcceptedCanceled" if cancelled else "Accepted", "filename": name}

    async def _upload_log(self, request_id: int) -> None:
        self.log_request_id = request_id
        try:
            await self._log_status("Uploading")
            await asyncio.sleep(self.step_delay)
            await self._log_status("Uploaded")
        finally:
            self.log_status = "Idle"

    async def _log_status(self, status: str) -> None:
        self.log_status = status
        await self.call("LogStatusNotification", _status(status, self.log_request_id))

    def on_publish_firmware(self, payload: Payload) -> Payload:
        request_id, checksum = payload["requestId"], payload["checksum"]
        self._start_job("publish", lambda: self._publish(request_id, checksum))
        return {"status": "Accepted"}

    async def _publish(self, request_id: int, checksum: str) -> None:
        """Download the firmware, check it and serve it to the stations behind this one (as a
        local controller does)."""
        self.publish_request_id = request_id
        self.published = None
        try:
            await self._publish_status("Downloading")
            await asyncio.sleep(self.step_delay)
            await self._publish_status("Downloaded")
            await self._publish_status("ChecksumVerified")
            self.published = checksum
            await self._publish_status("Published")
        except BaseException:
            self.publish_status = "Idle"
            raise

    async def _publish_status(self, status: str) -> None:
        self.publish_status = status
        await self.call("PublishFirmwareStatusNotification", self._publish_payload(status))

    def _publish_payload(self, status: str) -> Payload:
        payload = _status(status, self.publish_request_id)
        if status == "Published" and self.published is not None:
            payload["location"] = [f"http://{self.charger_id}.local/firmware/{self.published}"]
        return payload

    def on_unpublish_firmware(self, payload: Payload) -> Payload:
        if self.publish_status in _PUBLISHING:
            return {"status": "DownloadOngoing"}
        if self.published is None or self.published != payload["checksum"]:
            return {"status": "NoFirmware"}
        self.published = None
        self.publish_status = "Idle"
        return {"status": "Unpublished"}


def _status(status: str, request_id: int | None) -> Payload:
    """A status notification; a request id only with something going on."""
    payload: Payload = {"status": status}
    if status != "Idle" and request_id is not None:
        payload["requestId"] = request_id
    return payload


def _period(period: Period) -> Payload:
    out: Payload = {"startPeriod": period.start, "limit": round(period.limit, 3)}
    if period.phases is not None:
        out["numberPhases"] = period.phases
    return out
