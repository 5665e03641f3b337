"""OCPP 1.6J: what the central system answers to each charger-initiated action."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from csms import meter, notices
from csms.authorization import ACCEPTED, RunningChange, id_tag_info
from csms.limits import sane_wh
from csms.session import (
    Context,
    Handler,
    Outcome,
    boot,
    heartbeat,
    status_event,
    unknown_vendor,
    verdict,
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
    """The hash fields and meter events of a message's readings: an event per time they were
    taken (an offline backlog, a transaction's begin and end), each at its own time."""
    fields: dict[str, str] = {}
    events: list[ev.Event] = []
    cp, protocol = ctx.session.charger_id, ctx.session.protocol
    for value in values:
        found, ts = meter.samples([value], protocol)
        if not found:
            continue
        wh = meter.energy_wh(found)
        if wh is not None:
            fields[F.KWH] = repr(wh / 1000)
            fields[F.KWH_TS] = ts or ctx.now_iso
        events.append(
            ev.meter(cp, ctx.now, connector=connector, transaction_id=tx, ts=ts, samples=found)
        )
    return fields, events


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
    status, state = verdict(ctx, p["idTag"])
    return Outcome({"idTagInfo": id_tag_info(status, state.token)})


def orphan_stop(
    ctx: Context, connector: int, transaction_id: str, meter_stop_wh: float | None, ts: str
) -> ev.TxStopEvent:
    """The end of a transaction the charger never stopped, recorded when another replaces it
    on its connector: at the new one's start, reason Other. The session stays open to the
    charger's own stop, should it come late: recorded after this, it is the one kept."""
    return ev.tx_stop(
        ctx.session.charger_id,
        ctx.now,
        connector=connector,
        transaction_id=transaction_id,
        meter_stop_wh=meter_stop_wh,
        reason="Other",
        ts=ts,
    )


def start_said(p: dict[str, Any]) -> str:
    """What a StartTransaction says, to know it again: its time, meter and token."""
    return f"{p['timestamp']} {p['meterStart']} {p['idTag']}"


def start_transaction(ids: TransactionIds) -> Handler:
    def handle(ctx: Context, p: dict[str, Any]) -> Outcome:
        s = ctx.session
        connector = p["connectorId"]
        said = start_said(p)
        running_tx = s.transactions.get(connector)
        if running_tx is not None and s.tx_starts.get(connector) == said:
            # Sent again on a new connection, its answer lost with the old one: the charger
            # has no transaction id yet, and gets the one it was given.
            status, state = verdict(ctx, p["idTag"], running_tx)
            info = id_tag_info(status, state.token)
            return Outcome({"idTagInfo": info, "transactionId": int(running_tx)})
        running: list[RunningChange] = []
        events: list[ev.Event] = []
        if running_tx is not None:
            # A transaction the charger never stopped on this connector: this one replaces
            # it, and its token no longer runs it (here, or at another charger under
            # ConcurrentTx).
            del s.transactions[connector]
            replaced = s.tx_tokens.pop(connector, None)
            if replaced is not None:
                running.append(RunningChange(replaced, s.charger_id, running_tx, False))
            events.append(orphan_stop(ctx, connector, running_tx, None, p["timestamp"]))
        tx_id = str(ids())
        status, state = verdict(ctx, p["idTag"], tx_id)
        # Refused or not, the charger has the transaction (and stops it): it is tracked and
        # recorded, with the refusal.
        s.transactions[connector] = tx_id
        s.tx_starts[connector] = said
        fields = {
            f"{F.TRANSACTION}{connector}": tx_id,
            f"{F.TX_TOKEN}{connector}": "",
            f"{F.TX_START}{connector}": said,
        }
        if status == ACCEPTED and state.token is not None:
            s.tx_tokens[connector] = state.uid
            fields[f"{F.TX_TOKEN}{connector}"] = state.uid
            running.append(RunningChange(state.uid, s.charger_id, tx_id, True))
        else:
            s.tx_tokens.pop(connector, None)
        events.append(
            ev.tx_start(
                s.charger_id,
                ctx.now,
                connector=connector,
                transaction_id=tx_id,
                id_tag=p["idTag"],
                meter_start_wh=register_wh(ctx, "meterStart", p["meterStart"]),
                ts=p["timestamp"],
                auth_status="Invalid" if status == "Unknown" else status,
                token_partner=state.token.partner_id if state.token else None,
            )
        )
        return Outcome(
            {"idTagInfo": id_tag_info(status, state.token), "transactionId": int(tx_id)},
            fields,
            events,
            tuple(running),
        )

    return handle


def stop_transaction(ctx: Context, p: dict[str, Any]) -> Outcome:
    s = ctx.session
    tx = str(p["transactionId"])
    response: dict[str, Any] = {}
    if "idTag" in p:
        status, state = verdict(ctx, p["idTag"], tx, starting=False)
        response["idTagInfo"] = id_tag_info(status, state.token)
    if tx in s.ended:
        return Outcome(response)  # a repeat: the first stop was stored and is the one kept
    connector = s.connector_of(tx)
    fields = s.end(tx)
    events: list[ev.Event] = []
    running: tuple[RunningChange, ...] = ()
    if "transactionData" in p:
        # Acknowledged readings are kept even for a transaction this node does not know (its
        # state lost): under connector 0, the charger as a whole, with their transaction id.
        where = 0 if connector is None else connector
        meter_fields, events = meter_outcome(ctx, where, tx, p["transactionData"])
        fields |= meter_fields
    if connector is not None:
        del s.transactions[connector]
        s.tx_starts.pop(connector, None)
        fields[f"{F.TX_START}{connector}"] = ""
        fields[f"{F.TRANSACTION}{connector}"] = ""
        uid = s.tx_tokens.pop(connector, None)
        if uid is not None:
            fields[f"{F.TX_TOKEN}{connector}"] = ""
            running = (RunningChange(uid, s.charger_id, tx, False),)
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
    return Outcome(response, fields, events, running)


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
        "DiagnosticsStatusNotification": notices.reported("DiagnosticsStatusNotification"),
        "FirmwareStatusNotification": notices.reported("FirmwareStatusNotification"),
        # security extension (OCPP 1.6 Security Whitepaper)
        "SecurityEventNotification": notices.security_event,
        "SignCertificate": notices.sign_certificate,
        "LogStatusNotification": notices.reported("LogStatusNotification"),
        "SignedFirmwareStatusNotification": notices.reported("SignedFirmwareStatusNotification"),
    }
