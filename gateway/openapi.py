"""The OpenAPI 3.1 document, generated from the route table and the pydantic models and
TypedDicts the handlers validate with and answer with."""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from pydantic import TypeAdapter

from gateway.api import Endpoint, Param
from gateway.schemas import ISO_EXAMPLE, ErrorBody
from gateway.sessions import COOKIE

REF = "#/components/schemas/{model}"

HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-Id": {
        "description": "The request's id: the one the client sent (if 1-128 of"
        " A-Z a-z 0-9 . _ : @ + = / -), else a new one. Quote it when asking for support.",
        "required": True,
        "schema": {"type": "string", "maxLength": 128},
        "example": "3f2a9c1e0b7d4e5f8a6b1c2d3e4f5a6b",
    },
    "RateLimit-Policy": {
        "description": "The partner's limits (IETF httpapi RateLimit headers draft):"
        " requests per window of w seconds, for the minute and the hour",
        "schema": {"type": "string"},
        "example": "100;w=60, 1000;w=3600",
    },
    "RateLimit": {
        "description": "For the tighter window: its limit, the requests left, and the"
        " seconds until it has room for one more",
        "schema": {"type": "string"},
        "example": "limit=100, remaining=97, reset=42",
    },
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
        "example": "42",
    },
    "WWW-Authenticate": {
        "description": "The scheme to authenticate with",
        "required": True,
        "schema": {"type": "string"},
        "example": 'Bearer realm="evcs"',
    },
    "Location": {
        "description": "Where to follow up on what was created or started",
        "schema": {"type": "string"},
        "example": "/api/v1/commands/cmd_5f2b9c0a1d3e4f60",
    },
    "Preference-Applied": {
        "description": "respond-async when the command runs asynchronously",
        "schema": {"type": "string"},
        "example": "respond-async",
    },
    "Set-Cookie": {
        "description": "The console session's cookie: HttpOnly, SameSite=Strict, Path=/,"
        " Secure over https; Max-Age=0 clears it",
        "schema": {"type": "string"},
        "example": f"{COOKIE}=Jq3…; Path=/; Max-Age=28800; HttpOnly; SameSite=Strict",
    },
    "Idempotent-Replayed": {
        "description": "true when this is the stored answer to an earlier request with the"
        " same Idempotency-Key, which was not run again",
        "schema": {"type": "string", "enum": ["true"]},
        "example": "true",
    },
}

_RATE = ("RateLimit-Policy", "RateLimit")

# Errors every endpoint of a kind may answer, with when.
_PARTNER_ERRORS = {
    401: "No API key, or one that is malformed, unknown, revoked, expired or rotated out",
    403: "The partner's account is suspended",
    429: "Rate limit exceeded, or this address failed authentication too often: wait"
    " Retry-After seconds",
    503: "A storage service (Redis or PostgreSQL) is unavailable; retry later",
}
_ADMIN_ERRORS = {
    401: "No admin token (nor console session cookie), a wrong one, or a session that has ended",
    403: "A partner API key was presented, the admin API is disabled (no token configured),"
    " or a change made with a console session's cookie lacks its X-CSRF-Token",
    429: "This address failed authentication too often: wait Retry-After seconds",
    503: "A storage service (Redis or PostgreSQL) is unavailable; retry later",
}
_BODY_ERRORS = {
    400: "The body is not valid JSON or does not match the schema (the message says where)",
    413: "The body is larger than 256 KiB",
    415: "The body is not JSON (Content-Type must be application/json)",
}
_QUERY_ERRORS = {400: "A query parameter is invalid (the message says which)"}

X_REQUEST_ID_PARAM = Param(
    "X-Request-Id",
    "header",
    "Your id for this request, echoed in the X-Request-Id response header and our logs;"
    " one that is not 1-128 of A-Z a-z 0-9 . _ : @ + = / - is replaced by a new id",
    {"type": "string"},
    "req-2026-03-01-0001",
)


def _adapter(kind: Any) -> TypeAdapter[Any]:
    return TypeAdapter(kind)


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is either sent or not: its schema has no null branch."""
    schema = dict(schema)
    options = schema.pop("anyOf", None)
    if options is not None:
        rest = [o for o in options if o.get("type") != "null"]
        if len(rest) == 1:
            schema.update(rest[0])
        else:
            schema["anyOf"] = rest
    if schema.get("default", 0) is None:
        del schema["default"]
    schema.pop("title", None)
    return schema


class _Schemas:
    """Collects component schemas, one name per (type, mode)."""

    def __init__(self) -> None:
        self.components: dict[str, Any] = {}

    def ref(self, kind: Any, mode: str) -> dict[str, Any]:
        schema = _adapter(kind).json_schema(ref_template=REF, mode=mode)  # type: ignore[arg-type]
        self.components.update(schema.pop("$defs", {}))
        name = getattr(kind, "__name__", None)
        if name is None or getattr(kind, "__module__", "") == "builtins":
            return schema
        if mode == "validation" and name in self.components and self.components[name] != schema:
            name = f"{name}Input"
        self.components[name] = schema
        return {"$ref": REF.format(model=name)}

    def query_parameters(self, model: Any) -> list[dict[str, Any]]:
        schema = _adapter(model).json_schema(ref_template=REF, mode="validation")
        self.components.update(schema.pop("$defs", {}))
        required = set(schema.get("required", []))
        out = []
        for name, prop in schema.get("properties", {}).items():
            prop = _without_null(prop)
            param: dict[str, Any] = {
                "name": name,
                "in": "query",
                "required": name in required,
                "description": prop.pop("description", ""),
                "schema": prop,
            }
            examples = prop.pop("examples", None)
            if examples:
                param["example"] = examples[0]
            out.append(param)
        return out


def _param(p: Param) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": p.name,
        "in": p.where,
        "required": p.required or p.where == "path",
        "description": p.description,
        "schema": p.schema,
    }
    if p.example is not None:
        out["example"] = p.example
    return out


def _headers(names: Sequence[str]) -> dict[str, Any]:
    return {name: {"$ref": f"#/components/headers/{name}"} for name in names}


def _error_example(status: int, message: str, path: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "message": message,
        "error": HTTPStatus(status).phrase,
        "timestamp": ISO_EXAMPLE,
        "path": path,
    }


def _errors_of(ep: Endpoint[Any, Any]) -> dict[int, str]:
    errors: dict[int, str] = {}
    if ep.query is not None:
        errors.update(_QUERY_ERRORS)
    if ep.body is not None:
        errors.update(_BODY_ERRORS)
    if ep.access == "partner":
        errors.update(_PARTNER_ERRORS)
    elif ep.access == "admin":
        errors.update(_ADMIN_ERRORS)
    for status, when in ep.errors.items():
        errors[status] = f"{errors[status]}; or: {when}" if status in errors else when
    return errors


def _operation(
    ep: Endpoint[Any, Any], schemas: _Schemas, error_ref: dict[str, Any]
) -> dict[str, Any]:
    rate = _RATE if ep.access == "partner" else ()
    op: dict[str, Any] = {
        "operationId": ep.operation_id,
        "summary": ep.summary,
        "tags": [ep.tag],
    }
    if ep.description:
        op["description"] = ep.description
    params = [_param(p) for p in ep.params]
    if ep.query is not None:
        params += schemas.query_parameters(ep.query)
    params.append(_param(X_REQUEST_ID_PARAM))
    op["parameters"] = params
    if ep.body is not None:
        media: dict[str, Any] = {"schema": schemas.ref(ep.body, "validation")}
        if ep.body_example is not None:
            media["example"] = ep.body_example
        op["requestBody"] = {"required": True, "content": {"application/json": media}}
    responses: dict[str, Any] = {}
    for status, reply in sorted(ep.replies.items()):
        answer: dict[str, Any] = {
            "description": reply.description,
            "headers": _headers(("X-Request-Id", *rate, *reply.headers)),
        }
        if reply.model is not None:
            content: dict[str, Any] = {"schema": schemas.ref(reply.model, "serialization")}
            if reply.example is not None:
                content["example"] = reply.example
            answer["content"] = {reply.media: content}
        responses[str(status)] = answer
    for status, when in sorted(_errors_of(ep).items()):
        headers: tuple[str, ...] = ("X-Request-Id",)
        if status not in (401, 403, 503):
            headers += rate
        if status == 401:
            headers += ("WWW-Authenticate",)
        if status == 429:
            headers += ("Retry-After",)
        responses[str(status)] = {
            "description": when,
            "headers": _headers(headers),
            "content": {
                "application/json": {
                    "schema": error_ref,
                    "example": _error_example(status, when.split(";")[0].lower(), ep.path),
                }
            },
        }
    op["responses"] = responses
    if ep.access == "partner":
        op["security"] = [{"ApiKey": []}, {"Bearer": []}]
    elif ep.access == "admin":
        op["security"] = [{"AdminToken": []}, {"ConsoleSession": []}]
    else:
        op["security"] = []
    return op


def document(
    endpoints: Sequence[Endpoint[Any, Any]],
    *,
    title: str,
    version: str,
    description: str,
    tags: Sequence[tuple[str, str]],
    extra_models: Sequence[Any] = (),
) -> dict[str, Any]:
    schemas = _Schemas()
    error_ref = schemas.ref(ErrorBody, "serialization")
    paths: dict[str, dict[str, Any]] = {}
    for ep in endpoints:
        paths.setdefault(ep.path, {})[ep.method.lower()] = _operation(ep, schemas, error_ref)
    for model in extra_models:
        schemas.ref(model, "serialization")
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": description},
        "servers": [{"url": "/", "description": "this gateway"}],
        "tags": [{"name": name, "description": text} for name, text in tags],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.components.items())),
            "headers": HEADERS,
            "securitySchemes": {
                "ApiKey": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "x-api-key",
                    "description": "The partner's API key (evcs_…)",
                },
                "Bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The partner's API key as `Authorization: Bearer evcs_…`",
                },
                "AdminToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The operator's admin token (EVCS_ADMIN_TOKEN) as"
                    " `Authorization: Bearer …`; optional `X-Actor: <name>` names the admin"
                    " in the audit log",
                },
                "ConsoleSession": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": COOKIE,
                    "description": "An operator console session (POST /api/v1/admin/session):"
                    " its cookie, and for every call but GET and HEAD its CSRF token as"
                    " `X-CSRF-Token`",
                },
            },
        },
    }
