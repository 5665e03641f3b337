"""The API reference and the error catalogue as Markdown, rendered from the OpenAPI document."""

from __future__ import annotations

import json
import re
from http import HTTPStatus
from typing import Any

_ACCESS = {
    "ApiKey": "partner API key (`x-api-key` or `Authorization: Bearer`)",
    "AdminToken": "admin token (`Authorization: Bearer`)",
}


def escape_pipes(text: str) -> str:
    """Pipes split table cells, except inside code spans (where a backslash would show)."""
    parts = re.split(r"(`[^`]*`)", text)
    return "".join(p if p.startswith("`") else p.replace("|", "\\|") for p in parts)


def _cell(text: Any) -> str:
    return escape_pipes(" ".join(str(text).split()))


def _name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _anchor(schema_name: str) -> str:
    return f"schema-{schema_name.lower()}"


def type_of(schema: dict[str, Any]) -> str:
    """A schema as a short type expression, linking named schemas."""
    if "$ref" in schema:
        name = _name(schema["$ref"])
        return f"[{name}](#{_anchor(name)})"
    if "anyOf" in schema:
        return " \\| ".join(type_of(option) for option in schema["anyOf"])
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    if "enum" in schema:
        return " \\| ".join(f"`{json.dumps(value)}`" for value in schema["enum"])
    kind = schema.get("type")
    if kind == "array":
        return f"{type_of(schema.get('items', {}))}[]"
    if kind == "object":
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and extra:
            return f"object of {type_of(extra)}"
        return "object"
    if kind is None:
        return "any"
    fmt = schema.get("format")
    return f"{kind} ({fmt})" if fmt else str(kind)


def _constraints(schema: dict[str, Any]) -> str:
    parts = []
    for key, label in (
        ("minimum", "≥"),
        ("maximum", "≤"),
        ("minLength", "min length"),
        ("maxLength", "max length"),
        ("minItems", "min items"),
        ("maxItems", "max items"),
    ):
        if key in schema:
            parts.append(f"{label} {schema[key]}")
    if "pattern" in schema:
        parts.append(f"pattern `{schema['pattern']}`")
    if "default" in schema and schema["default"] is not None:
        parts.append(f"default `{json.dumps(schema['default'])}`")
    for option in schema.get("anyOf", []):
        if option.get("type") != "null":
            parts.extend(p for p in _constraints(option).split("; ") if p)
    return "; ".join(parts)


def _description(schema: dict[str, Any]) -> str:
    text = schema.get("description", "")
    for option in schema.get("anyOf", []):
        text = text or option.get("description", "")
    constraints = _constraints(schema)
    return _cell(f"{text} ({constraints})" if text and constraints else text or constraints)


def _json_block(value: Any) -> str:
    return "```json\n" + json.dumps(value, indent=2, ensure_ascii=False) + "\n```\n"


def _access(operation: dict[str, Any]) -> str:
    schemes = [name for requirement in operation.get("security", []) for name in requirement]
    if not schemes:
        return "none"
    if "ApiKey" in schemes:
        return _ACCESS["ApiKey"]
    return _ACCESS.get(schemes[0], schemes[0])


def _operation(method: str, path: str, op: dict[str, Any]) -> str:
    out = [f"### `{method.upper()} {path}` {{#{op['operationId'].lower()}}}\n"]
    out.append(f"**{op.get('summary', '')}** · operation `{op['operationId']}` · ")
    out.append(f"authentication: {_access(op)}\n")
    if op.get("description"):
        out.append(f"\n{op['description']}\n")
    params = op.get("parameters", [])
    if params:
        out.append("\n| parameter | in | type | required | description |\n|---|---|---|---|---|\n")
        for p in params:
            schema = p.get("schema", {})
            out.append(
                f"| `{p['name']}` | {p['in']} | {type_of(schema)} |"
                f" {'yes' if p.get('required') else 'no'} |"
                f" {_cell(p.get('description', ''))}"
                f"{' (' + _constraints(schema) + ')' if _constraints(schema) else ''} |\n"
            )
    body = op.get("requestBody")
    if body:
        media = body["content"]["application/json"]
        out.append(f"\n**Request body** (`application/json`): {type_of(media['schema'])}\n")
        if "example" in media:
            out.append("\n" + _json_block(media["example"]))
    out.append("\n| status | when | body | headers |\n|---|---|---|---|\n")
    for status, answer in op["responses"].items():
        content = answer.get("content", {})
        kinds = ", ".join(
            f"{type_of(c['schema'])} (`{media}`)"
            if media != "application/json"
            else type_of(c["schema"])
            for media, c in content.items()
        )
        headers = ", ".join(f"`{h}`" for h in answer.get("headers", {}) if h != "X-Request-Id")
        out.append(
            f"| {status} | {_cell(answer.get('description', ''))} | {kinds or '—'} |"
            f" {headers or '—'} |\n"
        )
    for status, answer in op["responses"].items():
        if not status.startswith("2"):
            continue
        for media, content in answer.get("content", {}).items():
            if "example" not in content:
                continue
            out.append(f'\n??? example "{status} example"\n')
            block = (
                _json_block(content["example"])
                if media == "application/json"
                else f"```text\n{content['example']}```\n"
            )
            out.append("".join(f"    {line}\n" if line else "\n" for line in block.splitlines()))
    return "".join(out) + "\n"


def _schema(name: str, schema: dict[str, Any]) -> str:
    out = [f"### {name} {{#{_anchor(name)}}}\n"]
    if schema.get("description"):
        out.append(f"\n{_cell(schema['description'])}\n")
    properties = schema.get("properties")
    if properties:
        required = set(schema.get("required", []))
        out.append("\n| field | type | required | description |\n|---|---|---|---|\n")
        for field, prop in properties.items():
            out.append(
                f"| `{field}` | {type_of(prop)} | {'yes' if field in required else 'no'} |"
                f" {_description(prop)} |\n"
            )
    else:
        out.append(f"\n{type_of(schema)}\n")
    return "".join(out) + "\n"


def _title(tag: str) -> str:
    return tag[:1].upper() + tag[1:]


def _demote(markdown: str) -> str:
    return "\n".join("#" + line if line.startswith("#") else line for line in markdown.split("\n"))


def reference(document: dict[str, Any]) -> str:
    """The whole reference page."""
    info = document["info"]
    out = [
        "# API reference\n\n",
        f"{info['title']}, version **{info['version']}** (OpenAPI {document['openapi']}). This"
        " page is generated when the site is built from the same OpenAPI document every gateway"
        " serves at `GET /api/openapi.json`, with an interactive explorer at `/api/docs`"
        " (Swagger UI, no external assets). The Python and JavaScript clients are built from it"
        " too.\n\n",
        "## Overview\n\n",
        _demote(info.get("description", "")) + "\n\n",
        "## Endpoints\n\n| | endpoint | summary |\n|---|---|---|\n",
    ]
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            out.append(
                f"| {method.upper()} | [`{path}`](#{op['operationId'].lower()}) |"
                f" {_cell(op.get('summary', ''))} |\n"
            )
            by_tag.setdefault(op["tags"][0], []).append((method, path, op))
    out.append("\n")
    for tag in document.get("tags", []):
        operations = by_tag.pop(tag["name"], [])
        if not operations:
            continue
        out.append(f"## {_title(tag['name'])}\n\n{tag.get('description', '')}\n\n")
        out.extend(_operation(method, path, op) for method, path, op in operations)
    for name, operations in by_tag.items():
        out.append(f"## {_title(name)}\n\n")
        out.extend(_operation(method, path, op) for method, path, op in operations)
    out.append("## Schemas\n\n")
    for name, schema in document["components"]["schemas"].items():
        out.append(_schema(name, schema))
    out.append("## Response headers\n\n| header | description |\n|---|---|\n")
    for name, header in document["components"].get("headers", {}).items():
        out.append(f"| `{name}` | {_cell(header.get('description', ''))} |\n")
    return "".join(out)


def error_catalogue(document: dict[str, Any]) -> str:
    """Every error status any partner endpoint answers: when, where, and an example body."""
    seen: dict[int, dict[str, Any]] = {}
    for path, ops in document["paths"].items():
        for op in ops.values():
            if "/admin/" in path:
                continue
            for status, answer in op["responses"].items():
                code = int(status)
                if code < 400:
                    continue
                entry = seen.setdefault(code, {"when": {}, "example": None})
                for when in answer.get("description", "").split("; or: "):
                    entry["when"].setdefault(when.strip(), []).append(op["operationId"])
                content = answer.get("content", {}).get("application/json", {})
                if entry["example"] is None and "example" in content:
                    entry["example"] = content["example"]
    out = []
    for code in sorted(seen):
        entry = seen[code]
        out.append(f"### {code} {HTTPStatus(code).phrase}\n\n")
        for when, operations in entry["when"].items():
            if len(operations) > 5:
                names = f"{len(operations)} endpoints"
            else:
                names = ", ".join(f"[`{o}`](../reference/api.md#{o.lower()})" for o in operations)
            out.append(f"- {when} — {names}\n")
        if entry["example"] is not None:
            out.append("\n" + _json_block(entry["example"]))
        out.append("\n")
    return "".join(out)
