"""A Server-Sent Events parser (the WHATWG event-stream format), fed line by line."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from pydantic import ValidationError

from evcharging_client.models import EVENT_MODELS, Event, UnknownEvent


@dataclass(frozen=True)
class RawEvent:
    """One dispatched event: its type, data and the last event id seen so far."""

    type: str
    data: str
    id: str | None


@dataclass
class SseParser:
    """Feeds lines in, gets events out; remembers the last id and the server's retry hint."""

    last_event_id: str | None = None
    retry_ms: int | None = None
    _type: str = ""
    _data: list[str] = field(default_factory=list)

    def feed(self, line: str) -> RawEvent | None:
        """Take one line (without its line ending); return an event when a blank line ends one."""
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None  # a comment, e.g. the keep-alive
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._type = value
        elif name == "id":
            if "\0" not in value:
                self.last_event_id = value
        elif name == "retry" and value.isdigit():
            self.retry_ms = int(value)
        return None

    def _dispatch(self) -> RawEvent | None:
        data, kind = self._data, self._type or "message"
        self._data, self._type = [], ""
        if not data:
            return None
        return RawEvent(kind, "\n".join(data), self.last_event_id)


def to_event(raw: RawEvent) -> Event:
    """The typed event for a raw one; types this client does not know stay UnknownEvent."""
    try:
        data = json.loads(raw.data)
    except ValueError:
        return UnknownEvent(type=raw.type, data=raw.data, event_id=raw.id)
    model = EVENT_MODELS.get(raw.type)
    if model is None or not isinstance(data, dict):
        return UnknownEvent(type=raw.type, data=data, event_id=raw.id)
    try:
        event: Event = model.model_validate({**data, "event_id": raw.id})  # type: ignore[assignment]
    except ValidationError:
        return UnknownEvent(type=raw.type, data=data, event_id=raw.id)
    return event
