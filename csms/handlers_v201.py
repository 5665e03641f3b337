"""OCPP 2.0.1: what the central system answers to each charger-initiated action."""

from __future__ import annotations

from typing import Any

from csms import notices
from csms.authorization import ACCEPTED, RunningChange, Token, id_token_info
from csms.handlers_v16 import meter_outcome, orphan_stop
from csms.meter import energy_wh
from csms.session import (
    Context,
    Handler,
    Outcome,
    Session,
    accept,
    boot,
    heartbeat,
    status_event,
    unknown_vendor,
    verdict,
)
from shared import events as ev
from shared.redis_keys import F


def boot_notification(ctx: Context, p: dict[str, Any]) -> Outcome:
    station = p["chargingStation"]
    return boot(ctx, station["vendorName"], station["model"], station.get("firmwareVersion"))


# An EVSE delivers through one connector at a time: while one is Occupied the others report
# Unavailable. The EVSE is what its most telling connector is.
_EVSE_PRECEDENCE = {"Occupied": 0, "Reserved": 1, "Available": 2, "Faulted": 3, "Unavailable": 4}


def status_notification(ctx: Context, p: dict[str, Any]) -> Outcome:
    # Partner connectors are EVSEs in 2.0.1: the unit a partner starts a session on.
    s = ctx.session
    evse = p["evseId"]
    before = s.partner_status(evse)
    raw = p["connectorStatus"]
    if p["connectorId"] != 1 or s.connector_raw is not None:
        raw = _evse_status(s, evse, p["connectorId"], raw)
    s.raw_status[evse] = raw
    event = status_event(ctx, evse, before, p["timestamp"])
    return Outcome({}, {f"{F.RAW}{evse}": raw, F.STATUS_TS: p["timestamp"]}, [event])


def _evse_status(s: Session, evse: int, connector: int, raw: str) -> str:
    """The EVSE's status once one of its connectors reported `raw`."""
    if s.connector_raw is None:
        s.connector_raw = {}
    known = s.connector_raw
    if evse in s.raw_status and not any(e == evse for e, _ in known):
        known[evse, 1] = s.raw_status[evse]  # what connector 1 alone reported so far
    known[evse, connector] = raw
    mine = [status for (e, _), status in known.items() if e == evse]
    return min(mine, key=lambda status: _EVSE_PRECEDENCE.get(status, len(_EVSE_PRECEDENCE)))


def meter_values(ctx: Context, p: dict[str, Any]) -> Outcome:
    evse = p["evseId"]
    tx = ctx.session.transactions.get(evse)
    fields, events = meter_outcome(ctx, evse, tx, p["meterValue"])
    wh = _energy_wh(events)
    if tx is not None and wh is not None:
        ctx.session.last_wh[tx] = wh
        fields[f"{F.TX_METER}{evse}"] = ctx.session.meter_state(tx)
    return Outcome({}, fields, events)


def authorize(ctx: Context, p: dict[str, Any]) -> Outcome:
    status, state = verdict(ctx, p["idToken"]["idToken"])
    return Outcome({"idTokenInfo": id_token_info(status, state.token)})


def transaction_event(ctx: Context, p: dict[str, Any]) -> Outcome:
    s = ctx.session
    info = p["transactionInfo"]
    tx = info["transactionId"]
    kind = p["eventType"]
    evse = (p.get("evse") or {}).get("id") or s.connector_of(tx) or 0
    before = s.partner_status(evse)
    fields: dict[str, str] = {}
    events: list[ev.Event] = []
    if "meterValue" in p:
        fields, events = meter_outcome(ctx, evse, tx, p["meterValue"])
    id_token = (p.get("idToken") or {}).get("idToken")
    if tx in s.ended:
        return _after_end(ctx, tx, id_token, fields, events)
    running: list[RunningChange] = []
    previous = s.transactions.get(evse)
    if kind != "Ended" and previous is not None and previous != tx:
        # A transaction the charger never ended on this EVSE: this one replaces it, and its
        # token no longer runs it (here, or at another charger under ConcurrentTx). EVSE 0
        # holds transactions whose EVSE is not known yet: several may run there at once.
        last_wh = s.last_wh.get(previous)
        uid = _replace(s, evse, previous, fields)
        if evse != 0:
            events.insert(0, orphan_stop(ctx, evse, previous, last_wh, p["timestamp"]))
            if uid is not None:
                running.append(RunningChange(uid, s.charger_id, previous, False))
    meter_wh = _energy_wh(events)
    status: str | None = None  # the token store's answer, when the event carries a token
    token: Token | None = None
    if id_token is not None:
        status, state = verdict(ctx, id_token, tx, starting=kind != "Ended")
        token = state.token
        if kind != "Ended" and status == ACCEPTED and token is not None:
            s.tx_tokens[evse] = state.uid
            fields[f"{F.TX_TOKEN}{evse}"] = state.uid
            running.append(RunningChange(state.uid, s.charger_id, tx, True))
    if (
        kind == "Started"
        or (kind == "Updated" and id_token is not None)
        or (tx in s.meter_start_unknown and meter_wh is not None)
    ):
        # When Started carried no energy reading, the first reading is the meter start: the
        # start is sent again, and the recorder keeps the first start time and fills the meter.
        # A token presented later (an Updated event) is sent with the start again too: the
        # recorder fills the token and the answer to it.
        if meter_wh is None:
            if kind == "Started":
                s.meter_start_unknown.add(tx)
        else:
            s.meter_start_unknown.discard(tx)
        events.append(
            ev.tx_start(
                s.charger_id,
                ctx.now,
                connector=evse,
                transaction_id=tx,
                id_tag=id_token,
                meter_start_wh=meter_wh,
                ts=p["timestamp"],
                seq_no=p["seqNo"],
                offline=p.get("offline", False),
                # a token presented at the end authorizes the stop, not the start
                auth_status=status if kind != "Ended" else None,
                token_partner=token.partner_id if token is not None and kind != "Ended" else None,
            )
        )
    if kind == "Ended":
        if meter_wh is None:
            # No reading at the end: the latest one during the transaction is its stop.
            meter_wh = s.last_wh.get(tx)
        s.last_wh.pop(tx, None)
        s.meter_start_unknown.discard(tx)
        fields |= s.end(tx)
        # where it ran, and the EVSE the end names unless another transaction runs there
        for place in {evse, s.connector_of(tx)}:
            if place is None or s.transactions.get(place) not in (tx, None):
                continue
            uid = _forget(s, place, fields)
            if uid is not None:
                running.append(RunningChange(uid, s.charger_id, tx, False))
        events.append(
            ev.tx_stop(
                s.charger_id,
                ctx.now,
                connector=evse,
                transaction_id=tx,
                meter_stop_wh=meter_wh,
                reason=info.get("stoppedReason", "Local"),
                ts=p["timestamp"],
                seq_no=p["seqNo"],
            )
        )
    else:
        tracked = s.connector_of(tx)
        if tracked is not None and tracked != evse:
            # Started before its EVSE was known (on EVSE 0, as a charger may before the cable
            # is in): the transaction is this EVSE's now, and its token with it.
            uid = _forget(s, tracked, fields)
            if uid is not None and evse not in s.tx_tokens:
                s.tx_tokens[evse] = uid
                fields[f"{F.TX_TOKEN}{evse}"] = uid
        s.transactions[evse] = tx
        if meter_wh is not None:
            s.last_wh[tx] = meter_wh
        fields[f"{F.TRANSACTION}{evse}"] = tx
        if "chargingState" in info:
            s.charging_state[evse] = info["chargingState"]
            fields[f"{F.CHARGING_STATE}{evse}"] = info["chargingState"]
        fields[f"{F.TX_METER}{evse}"] = s.meter_state(tx)
    if s.partner_status(evse) != before and evse in s.raw_status:
        events.append(status_event(ctx, evse, before, p["timestamp"]))
    response: dict[str, Any] = {}
    if status is not None:
        response["idTokenInfo"] = id_token_info(status, token)
    return Outcome(response, fields, events, tuple(running))


def _replace(s: Session, evse: int, previous: str, fields: dict[str, str]) -> str | None:
    """Forget a transaction another replaces on its EVSE, so state stays one per EVSE; the
    token it ran for."""
    del s.transactions[evse]
    s.last_wh.pop(previous, None)
    s.meter_start_unknown.discard(previous)
    uid = s.tx_tokens.pop(evse, None)
    if uid is not None:
        fields[f"{F.TX_TOKEN}{evse}"] = ""
    return uid


def _after_end(
    ctx: Context, tx: str, id_token: str | None, fields: dict[str, str], events: list[ev.Event]
) -> Outcome:
    """A report on a transaction that already ended: a repeat, or one sent out of order. Its
    readings are kept; it neither runs again nor ends twice."""
    response: dict[str, Any] = {}
    if id_token is not None:
        status, state = verdict(ctx, id_token, tx, starting=False)
        response["idTokenInfo"] = id_token_info(status, state.token)
    return Outcome(response, fields, events)


def _forget(s: Session, evse: int, fields: dict[str, str]) -> str | None:
    """Clear an EVSE's transaction, in the session and the hash; the token it ran for."""
    s.transactions.pop(evse, None)
    s.charging_state.pop(evse, None)
    fields[f"{F.TRANSACTION}{evse}"] = ""
    fields[f"{F.CHARGING_STATE}{evse}"] = ""
    fields[f"{F.TX_METER}{evse}"] = ""
    uid = s.tx_tokens.pop(evse, None)
    if uid is not None:
        fields[f"{F.TX_TOKEN}{evse}"] = ""
    return uid


def _energy_wh(events: list[ev.Event]) -> float | None:
    """The latest sane energy register reading of the message's meter events."""
    found = None
    for event in events:
        if event["type"] == "meter":
            wh = energy_wh(event["samples"])
            found = found if wh is None else wh
    return found


def handlers() -> dict[str, Handler]:
    return {
        "BootNotification": boot_notification,
        "Heartbeat": heartbeat,
        "StatusNotification": status_notification,
        "MeterValues": meter_values,
        "Authorize": authorize,
        "TransactionEvent": transaction_event,
        "DataTransfer": unknown_vendor,
        "FirmwareStatusNotification": notices.reported("FirmwareStatusNotification"),
        "LogStatusNotification": notices.reported("LogStatusNotification"),
        "SecurityEventNotification": notices.security_event,
        "SignCertificate": notices.sign_certificate,
        "NotifyEvent": notices.reported("NotifyEvent"),
        "NotifyReport": notices.reported("NotifyReport"),
        # notifications whose answer is empty and that change nothing a partner reads
        "NotifyChargingLimit": accept,
        "ClearedChargingLimit": accept,
        "NotifyDisplayMessages": accept,
        "NotifyMonitoringReport": accept,
        "NotifyCustomerInformation": accept,
        "PublishFirmwareStatusNotification": accept,
        "ReservationStatusUpdate": accept,
        "ReportChargingProfiles": accept,
    }
