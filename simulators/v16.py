"""A simulated OCPP 1.6J charge point."""

from __future__ import annotations

from typing import ClassVar

from shared.framing import Payload
from simulators.charger import SimCharger, Transaction, iso_now

ENERGY = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"

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
        # key -> (value, readonly); HeartbeatInterval and MeterValueSampleInterval are live.
        self.configuration: dict[str, tuple[str, bool]] = {
            "NumberOfConnectors": (str(self.connectors), True),
            "MeterValuesSampledData": (f"{ENERGY},{POWER}", False),
            "AuthorizeRemoteTxRequests": ("false", False),
            "ConnectionTimeOut": ("60", False),
        }
        self.handlers.update(
            {
                "RemoteStartTransaction": self.on_remote_start,
                "RemoteStopTransaction": self.on_remote_stop,
                "ChangeAvailability": self.on_change_availability,
                "Reset": self.on_reset,
                "TriggerMessage": self.on_trigger_message,
                "GetConfiguration": self.on_get_configuration,
                "ChangeConfiguration": self.on_change_configuration,
                "UnlockConnector": lambda _: {"status": "Unlocked"},
                "ClearCache": lambda _: {"status": "Accepted"},
            }
        )

    # ----------------------------------------------------------- outgoing messages

    def boot_payload(self) -> Payload:
        return {
            "chargePointVendor": self.vendor,
            "chargePointModel": self.model,
            "firmwareVersion": "evcs-sim",
        }

    async def authorize(self, id_tag: str) -> str:
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
        start = {
            "connectorId": c,
            "idTag": tx.id_tag,
            "meterStart": int(self.meters[c]),
            "timestamp": iso_now(),
        }
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

    # -------------------------------------------------------- handlers (csms -> us)

    def on_remote_start(self, payload: Payload) -> Payload:
        id_tag = payload["idTag"]
        connector = payload.get("connectorId", 1)
        if not self.can_start(connector):
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
        else:  # Diagnostics/FirmwareStatusNotification: nothing is going on
            await self.call(message, {"status": "Idle"})

    def on_get_configuration(self, payload: Payload) -> Payload:
        wanted: list[str] = payload.get("key") or [
            "HeartbeatInterval",
            "MeterValueSampleInterval",
            *self.configuration,
        ]
        known: list[Payload] = []
        unknown: list[str] = []
        for key in wanted:
            live = self._read_interval(key)
            if live is not None:
                known.append({"key": key, "readonly": False, "value": live})
            elif key in self.configuration:
                value, readonly = self.configuration[key]
                known.append({"key": key, "readonly": readonly, "value": value})
            else:
                unknown.append(key)
        result: Payload = {"configurationKey": known}
        if unknown:
            result["unknownKey"] = unknown
        return result

    def on_change_configuration(self, payload: Payload) -> Payload:
        key, value = payload["key"], payload["value"]
        if self._read_interval(key) is not None:
            return {"status": "Accepted" if self._write_interval(key, value) else "Rejected"}
        if key not in self.configuration:
            return {"status": "NotSupported"}
        if self.configuration[key][1]:
            return {"status": "Rejected"}
        self.configuration[key] = (value, False)
        return {"status": "Accepted"}
