"""The OpenAPI document is the contract: generated from the handlers' own models, complete,
with examples that match their schemas; Swagger UI is served from local assets only."""

from __future__ import annotations

import re
from typing import Any

import jsonschema_rs
from pydantic import TypeAdapter

from gateway.charger_schemas import ChargerJson
from gateway.command_schemas import ControlRequest
from gateway.openapi import REF
from gateway.routes import ENDPOINTS
from tests.gateway.support import Gateway

METHODS = {"get", "put", "post", "patch", "delete"}


async def _document(gw: Gateway) -> dict[str, Any]:
    resp = await gw.client.get("/api/openapi.json")  # no key needed
    assert resp.status == 200 and resp.content_type == "application/json"
    doc: dict[str, Any] = await resp.json()
    return doc


def _validator(doc: dict[str, Any], schema: dict[str, Any]) -> Any:
    return jsonschema_rs.validator_for({**schema, "components": doc["components"]})


async def test_every_route_is_documented_and_every_operation_is_served(gw: Gateway) -> None:
    doc = await _document(gw)
    assert doc["openapi"] == "3.1.0"
    documented = {(method.upper(), path) for path, item in doc["paths"].items() for method in item}
    served = set()
    for route in gw.app.router.routes():
        path = re.sub(
            r"\{(\w+):[^}]+\}", r"{\1}", route.resource.canonical if route.resource else ""
        )
        if route.method in ("HEAD", "OPTIONS") or not path.startswith("/api/v1"):
            continue
        served.add((route.method, path))
    assert documented == served
    assert documented == {(e.method, e.path) for e in ENDPOINTS}


async def test_operations_parameters_and_answers_are_described_with_examples(
    gw: Gateway,
) -> None:
    doc = await _document(gw)
    operation_ids = set()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            where = f"{method.upper()} {path}"
            assert op["summary"] and op["tags"], where
            assert op["operationId"] not in operation_ids
            operation_ids.add(op["operationId"])
            for param in op["parameters"]:
                assert param["description"] and param["schema"], (where, param["name"])
                if "example" in param:
                    assert _validator(doc, param["schema"]).is_valid(param["example"]), (
                        where,
                        param,
                    )
            for name in re.findall(r"\{(\w+)\}", path):
                assert any(p["name"] == name and p["in"] == "path" for p in op["parameters"])
            if "requestBody" in op:
                media = op["requestBody"]["content"]["application/json"]
                assert _validator(doc, media["schema"]).is_valid(media["example"]), where
            for status, answer in op["responses"].items():
                assert answer["description"], (where, status)
                assert "X-Request-Id" in answer["headers"], (where, status)
                for media_type, media in answer.get("content", {}).items():
                    if media_type != "application/json":
                        continue
                    assert "example" in media, (where, status)
                    assert _validator(doc, media["schema"]).is_valid(media["example"]), (
                        where,
                        status,
                    )
                if int(status) >= 400:
                    assert answer["content"]["application/json"]["schema"] == {
                        "$ref": REF.format(model="ErrorBody")
                    }
            statuses = set(op["responses"])
            if op["security"]:
                assert {"401", "403"} <= statuses, where
            if any(s["ApiKey"] == [] for s in op["security"] if "ApiKey" in s):
                assert "429" in statuses, where
                assert "Retry-After" in op["responses"]["429"]["headers"]
            if "requestBody" in op:
                assert {"400", "413", "415"} <= statuses, where
    for name, header in doc["components"]["headers"].items():
        assert header["description"] and "example" in header, name


async def test_schemas_are_the_handlers_own_models(gw: Gateway) -> None:
    doc = await _document(gw)
    schemas = doc["components"]["schemas"]
    control = schemas["ControlRequest"]
    assert control == TypeAdapter(ControlRequest).json_schema(ref_template=REF)
    assert control["additionalProperties"] is False  # unknown fields are refused
    assert control["properties"]["action"]["enum"] == ["on", "off"]
    charger = TypeAdapter(ChargerJson).json_schema(ref_template=REF, mode="serialization")
    nested = charger.pop("$defs")
    assert schemas["ChargerJson"] == charger
    assert schemas["ConnectorJson"] == nested["ConnectorJson"]
    for event in ("StatusEventJson", "SessionEventJson", "CommandEventJson"):
        assert event in schemas
    assert set(doc["components"]["securitySchemes"]) == {
        "ApiKey",
        "Bearer",
        "AdminToken",
        "ConsoleSession",
    }


async def test_swagger_ui_is_served_locally_under_a_strict_csp(gw: Gateway) -> None:
    resp = await gw.client.get("/api/docs")
    assert resp.status == 200 and resp.content_type == "text/html"
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-eval" not in csp and "script-src 'self' 'unsafe-inline'" not in csp
    page = await resp.text()
    assert "<script>" not in page  # no inline script: the initializer is a file
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(s.startswith("/api/docs/") for s in sources)
    for source in sources:
        asset = await gw.client.get(source)
        assert asset.status == 200, source
        assert len(await asset.read()) > 100
    init = await (await gw.client.get("/api/docs/init.js")).text()
    assert '"/api/openapi.json"' in init
    resp = await gw.client.get("/api/docs/assets/../../../etc/passwd")
    assert resp.status == 404
    resp = await gw.client.get("/api/docs/assets/index.html")
    assert resp.status == 404
