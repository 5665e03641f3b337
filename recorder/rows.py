"""Stream entries -> table rows. Pure: no I/O, so every mapping is testable alone.

The two history tables, nearly every row the recorder writes, take their rows already in
PostgreSQL's binary COPY format: a row is one join of its encoded fields. Most fields repeat
from row to row (the charger, its connector, the measurand and unit, the millisecond a batch
was received, the charger's timestamp), so their encodings come from small caches; asyncpg
encoding each field of each record, timestamps above all, took over a quarter of the
recorder's CPU. A field of the wrong type raises TypeError or ValueError here, so the entry is
skipped as malformed instead of failing its whole batch in PostgreSQL."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from shared import events as ev

COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, no header extension
COPY_TRAILER = b"\xff\xff"
NULL = b"\xff\xff\xff\xff"
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_PG_EPOCH_MS = 946_684_800_000  # 2000-01-01 UTC in Unix milliseconds
_MICROSECOND = timedelta(microseconds=1)
_INFINITIES = {
    (datetime.max.replace(tzinfo=UTC) - _PG_EPOCH) // _MICROSECOND: 2**63 - 1,
    (datetime.min.replace(tzinfo=UTC) - _PG_EPOCH) // _MICROSECOND: -(2**63),
}
_STATUS_FIELDS = struct.pack(">h", 8)
_METER_FIELDS = struct.pack(">h", 11)
_int4 = struct.Struct(">ii").pack  # length 4, value
_int2 = struct.Struct(">ih").pack  # length 2, value
_float8 = struct.Struct(">id").pack  # length 8, value
_int8 = struct.Struct(">iq").pack  # length 8, value (a timestamp's microseconds)
_length = struct.Struct(">i").pack
_LENGTH = [_length(n) for n in range(256)]
_SEQS = 256
_SEQ = [_int2(2, seq) for seq in range(_SEQS)]
_CACHED = 50_000  # encodings kept per cache; a full cache starts again from empty

_texts: dict[Any, bytes] = {}  # keyed by what the JSON held: only str ever enters
_ints: dict[Any, bytes] = {}
_stamps: dict[Any, bytes] = {}
_received: dict[str, bytes] = {}


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
    ts: datetime | None
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        ts = _rfc3339_rest(value)
    if ts is None:
        return None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def _rfc3339_rest(value: str) -> datetime | None:
    """What RFC 3339 (and the schemas' date-time rule) allows but fromisoformat refuses: a
    lower-case t or z, and a leap second (taken as the next second's start)."""
    text = value.upper()
    leap = text[16:19] == ":60"
    if leap:
        text = f"{text[:17]}59{text[19:]}"
    try:
        ts = datetime.fromisoformat(text)
    except ValueError:
        return None
    return ts + timedelta(seconds=1) if leap else ts


@dataclass(slots=True)
class Batch:
    # status_events and meter_values: one binary COPY row each (bytes); the rest: records
    status_events: list[bytes] = field(default_factory=list)
    meter_values: list[bytes] = field(default_factory=list)
    tx_starts: list[tuple[Any, ...]] = field(default_factory=list)
    tx_stops: list[tuple[Any, ...]] = field(default_factory=list)
    commands: list[tuple[Any, ...]] = field(default_factory=list)
    reports: list[tuple[Any, ...]] = field(default_factory=list)
    skipped: int = 0  # entries that make no row (connection events)
    aside: list[tuple[str, str | None, BaseException]] = field(default_factory=list)

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


def copy_data(rows: list[bytes]) -> memoryview:
    """Binary COPY rows as the whole COPY input (a buffer: asyncpg takes bytes for a path)."""
    return memoryview(b"".join((COPY_HEADER, *rows, COPY_TRAILER)))


def add(batch: Batch, entry_id: str, e: ev.Event, shard_tag: str = "0") -> None:
    """Append the rows one event of the shard becomes (KeyError for an entry that lacks a
    field its kind has; TypeError or ValueError for one whose fields have the wrong type)."""
    cp = e["cp"]
    # The hot path: the cache lookups are spelled out (`cache.get(v) or encode(v)`), as a
    # function call per field was half of a row's time. Encodings are never empty.
    if e["type"] == "meter":
        texts = _texts
        stream_id, received = _entry_fields(shard_tag, entry_id)
        head = _METER_FIELDS + stream_id
        connector = e["connector"]
        tx = e.get("transaction_id")
        ts = e.get("ts")
        common = b"".join(
            (
                received,
                texts.get(cp) or _text(cp),
                _ints.get(connector) or _int(connector),
                NULL if tx is None else texts.get(tx) or _text(tx),
                _stamps.get(ts) or _timestamp(ts) if type(ts) is str else _timestamp(ts),
            )
        )
        out: list[bytes] = []  # every sample of the event or none: one bad one skips them all
        seq = 0
        try:
            for measurand, phase, value, unit in e["samples"]:
                out.append(
                    b"".join(
                        (
                            head,
                            _SEQ[seq] if seq < _SEQS else _seq(seq),
                            common,
                            texts.get(measurand) or _text(measurand),
                            NULL if phase is None else texts.get(phase) or _text(phase),
                            _float8(8, value),
                            NULL if unit is None else texts.get(unit) or _text(unit),
                        )
                    )
                )
                seq += 1
        except struct.error as exc:  # a value that is not a number
            raise TypeError(f"a sampled value is not a number: {exc}") from exc
        batch.meter_values += out
    elif e["type"] == "status":
        texts = _texts
        stream_id, received = _entry_fields(shard_tag, entry_id)
        connector = e["connector"]
        ocpp_status = e["ocpp_status"]
        status = e["status"]
        error_code = e.get("error_code")
        ts = e.get("ts")
        batch.status_events.append(
            b"".join(
                (
                    _STATUS_FIELDS,
                    stream_id,
                    received,
                    texts.get(cp) or _text(cp),
                    _ints.get(connector) or _int(connector),
                    texts.get(ocpp_status) or _text(ocpp_status),
                    texts.get(status) or _text(status),
                    NULL if error_code is None else texts.get(error_code) or _text(error_code),
                    _stamps.get(ts) or _timestamp(ts) if type(ts) is str else _timestamp(ts),
                )
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
        at = received_at(entry_id)
        batch.reports.append((row_id(shard_tag, entry_id), at, cp, e["action"], e["payload"]))
    else:
        batch.skipped += 1  # connection events feed the live stream only


# Field encodings: the 4-byte length (-1 for NULL), then the value in PostgreSQL's binary form.


def _entry_fields(shard_tag: str, entry_id: str) -> tuple[bytes, bytes]:
    """The row's stream_id and received_at fields, both from its stream entry."""
    sid = row_id(shard_tag, entry_id).encode()
    size = _LENGTH[len(sid)] if len(sid) < 256 else _length(len(sid))
    ms = entry_id.partition("-")[0]
    return size + sid, _received.get(ms) or _received_at(ms)


def _text(value: Any) -> bytes:
    """A text field (NOT NULL)."""
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {type(value).__name__}")
    if "\x00" in value:
        raise ValueError("text with a NUL character")
    data = value.encode()
    encoded = _length(len(data)) + data
    if len(_texts) >= _CACHED:
        _texts.clear()
    _texts[value] = encoded
    return encoded


def _int(value: Any) -> bytes:
    """An integer field (NOT NULL); a float is truncated, as asyncpg did."""
    if not isinstance(value, int | float):
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    try:
        encoded = _int4(4, int(value))
    except (struct.error, OverflowError) as exc:
        raise ValueError(f"integer out of range: {value}") from exc
    if len(_ints) >= _CACHED:
        _ints.clear()
    _ints[value] = encoded
    return encoded


def _seq(seq: int) -> bytes:
    """A sample's place in its event as a smallint field."""
    try:
        return _int2(2, seq)
    except struct.error as exc:
        raise ValueError(f"too many samples: {seq + 1}") from exc


def _received_at(ms: str) -> bytes:
    """The csms's receipt time of an entry as a timestamptz field, from its id's
    milliseconds."""
    encoded = _int8(8, (int(ms) - _PG_EPOCH_MS) * 1000)
    if len(_received) >= _CACHED:
        _received.clear()
    _received[ms] = encoded
    return encoded


def _timestamp(value: Any) -> bytes:
    """The charger's timestamp (ISO 8601) as a timestamptz field; NULL when it is missing or
    not a timestamp, and UTC when it names no offset."""
    if not isinstance(value, str):
        return NULL  # and not cached: it may not be hashable
    ts = parse_ts(value)
    if ts is None:
        encoded = NULL
    else:
        microseconds = (ts - _PG_EPOCH) // _MICROSECOND
        # the first and last instants Python has are PostgreSQL's -infinity and infinity,
        # as asyncpg sent them
        encoded = _int8(8, _INFINITIES.get(microseconds, microseconds))
    if len(_stamps) >= _CACHED:
        _stamps.clear()
    _stamps[value] = encoded
    return encoded
