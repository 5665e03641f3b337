"""OCPP 1.6J: what the central system answers to each charger-initiated action."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from csms import meter, notices
from csms.limits import sane_wh
from csms.session import (
    Context,
    Handler,
    Outcome,
    boot,
    heartbeat,
    status_event,
    unknown_vendor,
)
from shared import events as ev
from shared.redis_keys import F

log = logging.getLogger(__name__)

# The next OCPP 1.6 transaction id, taken without waiting (csms/txids.py).
TransactionIds = Callable[[], int]


def boot_notification(ctx: Context, p: dict[str, Any]) -> Outcome:
    return boot(ctx, p["chargePointVendor"], p["chargePointModel"], p.get("firmwareVersion"))


def status_notification(ctx: Context, p: dict[str, Any]) -> Outcome:
    s = ctx.session
    connector = p["connectorId"]
    before = s.partner_status(connector)
    s.raw_status[connector] = p["status"]
    ts = p.get("timestamp") or ctx.now_iso
    event = status_event(ctx, connector, before, ts, p["errorCode"])
    return Outcome({}, {f"{F.RAW}{connector}": p["status"], F.STATUS_TS: ts}, [event])


def meter_outcome(
    ctx: Context, connector: int, tx: str | None, values: list[dict[str, Any]]
) -> tuple[dict[str, str], list[ev.Event]]:
    found, ts = meter.samples(values, ctx.session.protocol)
    if not found:
        return {}, []
    fields: dict[str, str] = {}
    wh = meter.energy_wh(found)
    if wh is not None:
        fields[F.KWH] = repr(wh / 1000)
        fields[F.KWH_TS] = ts or ctx.now_iso
    cp = ctx.session.charger_id
    event = ev.meter(cp, ctx.now, connector=connector, transaction_id=tx, ts=ts, samples=found)
    return fields, [event]


def register_wh(ctx: Context, name: str, value: int) -> float | None:
    """A 1.6 meterStart/meterStop in Wh, or None (energy unknown) when no meter could read it."""
    wh = sane_wh(value)
    if wh is None:
        log.warning(
            "%s %s is no meter reading; the energy stays unknown",
            name,
            value,
            extra={"charger_id": ctx.session.charger_id},
        )
    return wh


def meter_values(ctx: Context, p: dict[str, Any]) -> Outcome:
    tx = p.get("transactionId")
    fields, events = meter_outcome(
        ctx, p["connectorId"], None if tx is None else str(tx), p["meterValue"]
    )
    return Outcome({}, fields, events)


def authorize(ctx: Context, p: dict[str, Any]) -> Outcome:
    # No authorization list yet: every idTag is accepted (partners start sessions remotely).
    return Outcome({"idTagInfo": {"status": "Accepted"}})


def start_transaction(ids: TransactionIds) -> Handler:
    def handle(ctx: Context, p: dict[str, Any]) -> Outcome:
        tx_id = ids()
        connector = p["connectorId"]
        ctx.session.transactions[connector] = str(tx_id)
        event = ev.tx_start(
            ctx.session.charger_id,
            ctx.now,
            connector=connector,
            transaction_id=str(tx_id),
            id_tag=p["idTag"],
            meter_start_wh=register_wh(ctx, "meterStart", p["meterStart"]),
            ts=p["timestamp"],
        )
        return Outcome(
            {"idTagInfo": {"status": "Accepted"}, "transactionId": tx_id},
            {f"{F.TRANSACTION}{connector}": str(tx_id)},
            [event],
        )

    return handle


def stop_transaction(ctx: Context, p: dict[str, Any]) -> Outcome:
    s = ctx.session
    tx = str(p["transactionId"])
    connector = s.connector_of(tx)
    fields: dict[str, str] = {}
    events: list[ev.Event] = []
    if connector is not None:
        del s.transactions[connector]
        if "transactionData" in p:
            fields, events = meter_outcome(ctx, connector, tx, p["transactionData"])
        fields[f"{F.TRANSACTION}{connector}"] = ""
    # meterStop is the register in Wh by definition; the energy is meterStop - meterStart
    wh = register_wh(ctx, "meterStop", p["meterStop"])
    events.append(
        ev.tx_stop(
            s.charger_id,
            ctx.now,
            connector=connector,
            transaction_id=tx,
            meter_stop_wh=wh,
            reason=p.get("reason", "Local"),
            ts=p["timestamp"],
        )
    )
    response: dict[str, Any] = {}
    if "idTag" in p:
        response["idTagInfo"] = {"status": "Accepted"}
    return Outcome(response, fields, events)


def handlers(ids: TransactionIds) -> dict[str, Handler]:
    return {
        "BootNotification": boot_notification,
        "Heartbeat": heartbeat,
        "StatusNotification": status_notification,
        "MeterValues": meter_values,
        "Authorize": authorize,
        "StartTransaction": start_transaction(ids),
        "StopTransaction": stop_transaction,
        "DataTransfer": unknown_vendor,
        "DiagnosticsStatusNotification": notices.status_report("DiagnosticsStatusNotification"),
        "FirmwareStatusNotification": notices.status_report("FirmwareStatusNotification"),
        # security extension (OCPP 1.6 Security Whitepaper)
        "SecurityEventNotification": notices.security_event,
        "SignCertificate": notices.sign_certificate,
        "LogStatusNotification": notices.status_report("LogStatusNotification"),
        "SignedFirmwareStatusNotification": notices.status_report(
            "SignedFirmwareStatusNotification"
        ),
    }
