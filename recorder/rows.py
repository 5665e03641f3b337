"""Stream entries -> table rows. Pure: no I/O, so every mapping is testable alone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson

from shared import events as ev


def received_at(entry_id: str) -> datetime:
    """The csms's receipt time, from the stream entry id (milliseconds before the dash)."""
    return _at_ms(entry_id.partition("-")[0])


@lru_cache(maxsize=4096)
def _at_ms(ms: str) -> datetime:
    # entries of one batch share few milliseconds: this is a dict lookup for most of them
    return datetime.fromtimestamp(int(ms) / 1000, UTC)


def row_id(shard_tag: str, entry_id: str) -> str:
    """The id a row keeps of its stream entry, unique across shards: two shards can give the
    same entry id (same millisecond, same sequence) to different events. The shard of tag "0"
    (the only one of an unsharded stream) keeps the bare entry id."""
    return entry_id if shard_tag == "0" else f"{shard_tag}:{entry_id}"


def parse_ts(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        return None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


@dataclass(slots=True)
class Batch:
    status_events: list[tuple[Any, ...]] = field(default_factory=list)
    meter_values: list[tuple[Any, ...]] = field(default_factory=list)
    tx_starts: list[tuple[Any, ...]] = field(default_factory=list)
    tx_stops: list[tuple[Any, ...]] = field(default_factory=list)
    commands: list[tuple[Any, ...]] = field(default_factory=list)
    reports: list[tuple[Any, ...]] = field(default_factory=list)
    skipped: int = 0

    @property
    def rows(self) -> int:
        return (
            len(self.status_events)
            + len(self.meter_values)
            + len(self.tx_starts)
            + len(self.tx_stops)
            + len(self.commands)
            + len(self.reports)
        )


def add(batch: Batch, entry_id: str, e: ev.Event, shard_tag: str = "0") -> None:
    """Append the rows one event of the shard becomes (KeyError for an entry that lacks a
    field its kind has)."""
    cp = e["cp"]
    at = received_at(entry_id)
    stream_id = row_id(shard_tag, entry_id)
    if e["type"] == "status":
        batch.status_events.append(
            (
                stream_id,
                at,
                cp,
                e["connector"],
                e["ocpp_status"],
                e["status"],
                e.get("error_code"),
                parse_ts(e.get("ts")),
            )
        )
    elif e["type"] == "meter":
        ts = parse_ts(e.get("ts"))
        for seq, (measurand, phase, value, unit) in enumerate(e["samples"]):
            batch.meter_values.append(
                (
                    stream_id,
                    seq,
                    at,
                    cp,
                    e["connector"],
                    e.get("transaction_id"),
                    ts,
                    measurand,
                    phase,
                    value,
                    unit,
                )
            )
    elif e["type"] == "tx_start":
        batch.tx_starts.append(
            (
                cp,
                e["transaction_id"],
                e.get("connector"),
                e.get("id_tag"),
                parse_ts(e.get("ts")),
                e.get("meter_start_wh"),
                e.get("auth_status"),
                e.get("token_partner"),
            )
        )
    elif e["type"] == "tx_stop":
        batch.tx_stops.append(
            (
                cp,
                e["transaction_id"],
                e.get("connector"),
                parse_ts(e.get("ts")),
                e.get("meter_stop_wh"),
                e.get("reason"),
            )
        )
    elif e["type"] == "command":
        request = {"action": e["action"], "params": e.get("params")}
        batch.commands.append(
            (
                e["command_id"],
                e.get("partner_id"),
                cp,
                e["action"],
                e.get("ocpp_action"),
                request,
                e["outcome"],
                e.get("response"),
                datetime.fromtimestamp(e["at"], UTC),
            )
        )
    elif e["type"] == "report":
        batch.reports.append((stream_id, at, cp, e["action"], e["payload"]))
    else:
        batch.skipped += 1  # connection events feed the live stream only


def decode(payload: str | bytes | None) -> ev.Event | None:
    """The event in an entry's event field; None for what is not one."""
    if payload is None:
        return None
    try:
        return ev.parse(payload)
    except (orjson.JSONDecodeError, TypeError):
        return None
