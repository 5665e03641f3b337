"""A request description, :class:`Call`, and the helpers every operation builds one with."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

T = TypeVar("T")

API = "/api/v1"
Parse = Callable[[Any, Mapping[str, str]], T]


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request of one operation, and how to turn its successful answer into a result."""

    operation_id: str
    method: str
    path: str
    parse: Parse[T]
    params: dict[str, str] = field(default_factory=dict)
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    replayable: bool = True
    """Sending it twice does nothing twice (a read, or a command under an Idempotency-Key)."""

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("Idempotency-Key")


def segment(value: str) -> str:
    """A path segment, escaped: an id can never reach another path."""
    return quote(value, safe="")


def model(cls: type[T]) -> Parse[T]:
    """An answer read as the pydantic model ``cls``."""

    def parse(body: Any, headers: Mapping[str, str]) -> T:
        return cls.model_validate(body)  # type: ignore[attr-defined,no-any-return]

    return parse


def replayable_model(cls: type[T]) -> Parse[T]:
    """A command's answer, marked when it is the replay of an earlier request's answer."""

    def parse(body: Any, headers: Mapping[str, str]) -> T:
        replayed = headers.get("idempotent-replayed") == "true"
        return cls.model_validate({**body, "replayed": replayed})  # type: ignore[attr-defined,no-any-return]

    return parse


def query(**params: object) -> dict[str, str]:
    """Query parameters that were given, as the API spells them."""
    out: dict[str, str] = {}
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError(f"{name}: give a timezone-aware datetime")
            out[name] = value.isoformat()
        elif isinstance(value, bool):
            out[name] = "true" if value else "false"
        elif isinstance(value, (list, tuple)):
            out[name] = ",".join(str(v) for v in value)
        else:
            out[name] = str(value)
    return out


def json_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Body fields as the API takes them: datetimes as ISO 8601 (with their time zone)."""
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError(f"{name}: give a timezone-aware datetime")
            value = value.isoformat()
        out[name] = value
    return out


UNSET: Any = object()
"""Default of an optional argument that was not given (None may mean something)."""


def given(**fields: Any) -> dict[str, Any]:
    """The arguments that were given."""
    return {name: value for name, value in fields.items() if value is not UNSET}


def without_none(**fields: object) -> dict[str, Any]:
    """A JSON body of the fields that were given: the API takes a missing field as its default."""
    return {name: value for name, value in fields.items() if value is not None}
