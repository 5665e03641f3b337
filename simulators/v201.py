"""A simulated OCPP 2.0.1 charging station (one connector per EVSE)."""

from __future__ import annotations

import uuid
from typing import ClassVar

from shared.framing import Payload
from simulators.charger import SimCharger, Transaction, iso_now

ENERGY = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"

# TransactionEvent triggerReason for each way a session can end.
_STOP_TRIGGER = {
    "Remote": "RemoteStop",
    "Local": "StopAuthorized",
    "DeAuthorized": "Deauthorized",
    "ImmediateReset": "ResetCommand",
    "EVDisconnected": "EVDeparted",
}


class SimCharger201(SimCharger):
    """An OCPP 2.0.1 charging station with `connectors` EVSEs, each with connector 1."""

    PROTOCOL: ClassVar[str] = "ocpp2.0.1"
    FORMAT_VIOLATION: ClassVar[str] = "FormatViolation"

    def _setup(self) -> None:
        self.boot_reason = "PowerUp"
        self._reset_when_idle = False
        # (component, variable) -> (value, readonly); the two interval variables are live.
        self.variables: dict[tuple[str, str], tuple[str, bool]] = {
            ("SampledDataCtrlr", "TxUpdatedMeasurands"): (f"{ENERGY},{POWER}", False),
            ("SecurityCtrlr", "Identity"): (self.charger_id, True),
            ("AuthCtrlr", "AuthorizeRemoteStart"): ("false", False),
        }
        self.handlers.update(
            {
                "RequestStartTransaction": self.on_request_start,
                "RequestStopTransaction": self.on_request_stop,
                "ChangeAvailability": self.on_change_availability,
                "Reset": self.on_reset,
                "TriggerMessage": self.on_trigger_message,
                "GetVariables": self.on_get_variables,
                "SetVariables": self.on_set_variables,
                "GetBaseReport": lambda _: {"status": "Accepted"},
                "UnlockConnector": self.on_unlock_connector,
            }
        )

    # ----------------------------------------------------------- outgoing messages

    def boot_payload(self) -> Payload:
        return {
            "chargingStation": {
                "model": self.model,
                "vendorName": self.vendor,
                "firmwareVersion": "evcs-sim",
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
        response = await self.call(
            "Authorize", {"idToken": {"idToken": id_tag, "type": "ISO14443"}}
        )
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
        # EVConnected: the session is over but the cable is still in until the status below.
        ended = self._event(tx, "Ended", trigger, "EVConnected", "Transaction.End", reason)
        await self.call("TransactionEvent", ended)
        await self.set_status(evse, self.idle_status(evse))
        if self._reset_when_idle and not self.transactions:
            self._reset_when_idle = False
            await self._reset("ImmediateReset")

    # -------------------------------------------------------- handlers (csms -> us)

    def on_request_start(self, payload: Payload) -> Payload:
        token = payload["idToken"]
        remote_start_id = payload["remoteStartId"]
        evse = payload.get("evseId", 1)
        if not self.can_start(evse):
            return {"status": "Rejected"}
        tx = self._open_transaction(
            evse,
            token["idToken"],
            remote=True,
            id_token_type=token["type"],
            remote_start_id=remote_start_id,
        )
        self.after_reply(self._begin(tx))
        return {"status": "Accepted"}

    def on_request_stop(self, payload: Payload) -> Payload:
        found = self._remote_stop(payload["transactionId"], "Remote")
        return {"status": "Accepted" if found else "Rejected"}

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
            self._reset_when_idle = True
            return {"status": "Scheduled"}
        self.after_reply(self._reset("ImmediateReset"))
        return {"status": "Accepted"}

    def on_trigger_message(self, payload: Payload) -> Payload:
        message = payload["requestedMessage"]
        evse = payload.get("evse", {}).get("id")
        if evse is not None and evse not in self.meters:
            return {"status": "Rejected"}
        evses = list(self.connector_ids()) if evse is None else [evse]
        if message == "TransactionEvent":
            txs = [self.transactions[e] for e in evses if e in self.transactions]
            if not txs:
                return {"status": "Rejected"}
            self.after_reply(self._send_tx_updates(txs))
        elif message in ("BootNotification", "Heartbeat", "StatusNotification", "MeterValues"):
            self.after_reply(self._send_triggered(message, evses))
        else:
            return {"status": "NotImplemented"}
        return {"status": "Accepted"}

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
        else:
            for evse in evses:
                tx = self.transactions.get(evse)
                meter = self._meter_value(evse, "Trigger", power=tx is not None and tx.charging)
                await self.call("MeterValues", {"evseId": evse, "meterValue": [meter]})

    def on_get_variables(self, payload: Payload) -> Payload:
        results: list[Payload] = []
        for item in payload["getVariableData"]:
            component, variable = item["component"], item["variable"]
            result: Payload = {"component": component, "variable": variable}
            if "attributeType" in item:
                result["attributeType"] = item["attributeType"]
            value = self._get_variable(component["name"], variable["name"])
            if value is None:
                result["attributeStatus"] = "UnknownVariable"
            elif item.get("attributeType", "Actual") != "Actual":
                result["attributeStatus"] = "NotSupportedAttributeType"
            else:
                result["attributeStatus"] = "Accepted"
                result["attributeValue"] = value
            results.append(result)
        return {"getVariableResult": results}

    def on_set_variables(self, payload: Payload) -> Payload:
        results: list[Payload] = []
        for item in payload["setVariableData"]:
            component, variable = item["component"], item["variable"]
            result: Payload = {"component": component, "variable": variable}
            if "attributeType" in item:
                result["attributeType"] = item["attributeType"]
            result["attributeStatus"] = self._set_variable(
                component["name"], variable["name"], item["attributeValue"]
            )
            results.append(result)
        return {"setVariableResult": results}

    def on_unlock_connector(self, payload: Payload) -> Payload:
        evse = payload["evseId"]
        if evse not in self.meters or payload["connectorId"] != 1:
            return {"status": "UnknownConnector"}
        if evse in self.transactions:
            return {"status": "OngoingAuthorizedTransaction"}
        return {"status": "Unlocked"}

    def _get_variable(self, component: str, variable: str) -> str | None:
        live = _LIVE.get((component, variable))
        if live is not None:
            return self._read_interval(live)
        stored = self.variables.get((component, variable))
        return None if stored is None else stored[0]

    def _set_variable(self, component: str, variable: str, value: str) -> str:
        live = _LIVE.get((component, variable))
        if live is not None:
            return "Accepted" if self._write_interval(live, value) else "Rejected"
        stored = self.variables.get((component, variable))
        if stored is None:
            return "UnknownVariable"
        if stored[1]:
            return "Rejected"
        self.variables[component, variable] = (value, False)
        return "Accepted"


# Device-model variables backed by the charger's own interval attributes.
_LIVE = {
    ("OCPPCommCtrlr", "HeartbeatInterval"): "HeartbeatInterval",
    ("SampledDataCtrlr", "TxUpdatedInterval"): "MeterValueSampleInterval",
}
