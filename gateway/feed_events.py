"""What the live feed sends: stream positions as Last-Event-IDs, and stream events as the
partner-facing events of GET /events. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from gateway.command_log import label_of
from shared import events as ev

KINDS = ("status", "connection", "session", "command")


# stream positions -------------------------------------------------------------------------

EntryId = tuple[int, int]


# Each part of a Redis stream entry id is an unsigned 64-bit number.
_ENTRY_PART_MAX = 2**64 - 1


def parse_entry_id(text: str) -> EntryId | None:
    ms, sep, seq = text.partition("-")
    if not sep or not ms.isdigit() or not seq.isdigit() or len(ms) > 20 or len(seq) > 20:
        return None
    entry = int(ms), int(seq)
    return entry if max(entry) <= _ENTRY_PART_MAX else None


def format_entry_id(entry: EntryId) -> str:
    return f"{entry[0]}-{entry[1]}"


def parse_position(text: str, shards: int) -> list[EntryId] | None:
    """A Last-Event-ID: one stream entry id per shard, comma-separated (just the entry id when
    there is one shard). None if it is not one this feed could have sent."""
    parts = text.strip().split(",")
    if len(parts) != shards:
        return None
    ids = [parse_entry_id(p.strip()) for p in parts]
    if any(i is None for i in ids):
        return None
    return [i for i in ids if i is not None]


def format_position(position: list[EntryId]) -> str:
    return ",".join(format_entry_id(p) for p in position)


# events as partners see them --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeedEvent:
    shard: int
    entry: EntryId
    kind: str
    data: bytes  # the JSON partners get
    charger_id: str
    partner_id: str | None  # set for command events: only that partner gets them


def _iso(epoch: Any) -> str | None:
    if not isinstance(epoch, int | float):
        return None
    return (
        datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def present(event: ev.Event) -> tuple[str, dict[str, Any]] | None:
    """The partner-facing kind and payload of a stream event; None for what partners don't get
    (KeyError for an entry that lacks a field its kind has)."""
    cp = event.get("cp")
    if not isinstance(cp, str):
        return None
    received = _iso(event.get("at"))
    if event["type"] == "status":
        return "status", {
            "chargerId": cp,
            "connectorId": event["connector"],
            "status": event["status"],
            "previousStatus": event.get("previous"),
            "ocppStatus": event["ocpp_status"],
            "errorCode": event.get("error_code"),
            "timestamp": event.get("ts"),
            "receivedAt": received,
        }
    if event["type"] == "connection":
        return "connection", {
            "chargerId": cp,
            "online": bool(event["online"]),
            "receivedAt": received,
        }
    if event["type"] == "tx_start":
        return "session", _session(
            cp,
            event,
            received,
            started=True,
            id_tag=event.get("id_tag"),
            start_wh=event.get("meter_start_wh"),
        )
    if event["type"] == "tx_stop":
        return "session", _session(
            cp, event, received, reason=event.get("reason"), stop_wh=event.get("meter_stop_wh")
        )
    if event["type"] == "command":
        return "command", {
            "commandId": event["command_id"],
            "chargerId": cp,
            "action": label_of(str(event["action"])),
            "state": event["outcome"],
            "ocppAction": event.get("ocpp_action"),
            "chargerResponse": event.get("response"),
            "message": event.get("message"),
            "receivedAt": received,
        }
    return None


def _session(
    cp: str,
    event: ev.TxStartEvent | ev.TxStopEvent,
    received: str | None,
    *,
    started: bool = False,
    id_tag: str | None = None,
    reason: str | None = None,
    start_wh: float | None = None,
    stop_wh: float | None = None,
) -> dict[str, Any]:
    return {
        "chargerId": cp,
        "transactionId": str(event["transaction_id"]),
        "state": "started" if started else "stopped",
        "connectorId": event.get("connector"),
        "idTag": id_tag,
        "meterStartWh": start_wh,
        "meterStopWh": stop_wh,
        "reason": reason,
        "timestamp": event.get("ts"),
        "receivedAt": received,
    }


def to_feed_event(shard: int, entry_id: str, fields: dict[Any, Any]) -> FeedEvent | None:
    entry = parse_entry_id(entry_id)
    if entry is None:
        return None
    try:
        event = ev.decode(fields)
        shown = present(event)
    except (orjson.JSONDecodeError, TypeError, KeyError):
        return None
    if shown is None:
        return None
    kind, data = shown
    partner = event["partner_id"] if event["type"] == "command" else None
    return FeedEvent(
        shard, entry, kind, orjson.dumps(data), data["chargerId"], partner if partner else None
    )
