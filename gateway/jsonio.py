"""JSON in and out of HTTP: orjson responses, pydantic-validated request bodies and query
parameters (handlers get these through their endpoint: gateway.api)."""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar, get_origin

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from gateway.errors import ApiError

M = TypeVar("M", bound=BaseModel)

# Enough for a batch of 1000 of the longest charger ids with room to spare; bigger bodies get 413.
MAX_BODY_BYTES = 256 * 1024


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


def _describe(exc: ValidationError) -> str:
    """A short, client-facing summary of what is wrong with the body."""
    parts = []
    for err in exc.errors(include_url=False)[:5]:
        if err["type"] == "json_invalid":
            return "request body is not valid JSON"
        where = ".".join(str(p) for p in err["loc"]) or "body"
        parts.append(f"{where}: {err['msg']}")
    more = len(exc.errors()) - len(parts)
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


async def read_json(request: web.Request, model: type[M]) -> M:
    """The body validated as `model`: 415 unless JSON, 400 if malformed or of the wrong shape."""
    if not _is_json(request.content_type):
        raise ApiError(415, "request body must be JSON (Content-Type: application/json)")
    body = await request.read()  # raises 413 past client_max_size
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise ApiError(400, _describe(exc)) from None


def _validate(model: type[M], data: Any) -> M:
    """`data` validated as `model`, or 400."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(400, _describe(exc)) from None


@cache
def _repeatable(model: type[BaseModel]) -> frozenset[str]:
    """The query parameters of `model` that may repeat: those whose field is a list."""
    return frozenset(
        info.alias or name
        for name, info in model.model_fields.items()
        if get_origin(info.annotation) is list
    )


def read_query(request: web.Request, model: type[M]) -> M:
    """The query parameters validated as `model`, or 400. A parameter whose field is a list
    may repeat (`?ids=A&ids=B`); of any other, the first value counts."""
    values: dict[str, Any] = dict(request.query)
    for name in _repeatable(model):
        if name in request.query:
            values[name] = request.query.getall(name)
    return _validate(model, values)
