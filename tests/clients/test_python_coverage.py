"""Every operation of the OpenAPI document is reachable from the Python client (sync and
async), and its result models match the document's schemas: each call is answered with the
document's own example, which the client must parse."""

from __future__ import annotations

import json
import re
import types
import typing
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from evcharging_client import (
    AsyncEVChargingAdmin,
    AsyncEVChargingClient,
    AsyncEventStream,
    EVChargingAdmin,
    EVChargingClient,
    EventStream,
)
from evcharging_client import models as m
from pydantic import BaseModel

from tests.clients.conftest import CLIENTS

DOCUMENT: dict[str, Any] = json.loads((CLIENTS / "openapi.json").read_text())
T0 = datetime(2026, 3, 1, tzinfo=UTC)
MANY = [f"CP-{n:04d}" for n in range(300)]  # too many for a URL: the batch read POSTs

# (who, invocation); "partner" calls get an EVChargingClient, "admin" an EVChargingAdmin
CALLS: list[tuple[str, Callable[[Any], Any]]] = [
    ("partner", lambda c: c.health()),
    ("partner", lambda c: c.ready()),
    ("partner", lambda c: c.list_chargers(status=["CHARGING"], page_size=10)),
    ("partner", lambda c: c.get_charger_status("CP-0001")),
    ("partner", lambda c: c.batch_status(["CP-0001", "CP-9999"])),
    ("partner", lambda c: c.batch_status(MANY)),
    ("partner", lambda c: c.control("CP-0001", "on", connector_id=1, id_tag="TAG")),
    ("partner", lambda c: c.set_status("CP-0001", "INOPERATIVE")),
    ("partner", lambda c: c.unlock_connector("CP-0001", 1, evse_connector_id=1)),
    ("partner", lambda c: c.reset("CP-0001", "Hard")),
    ("partner", lambda c: c.batch_control(["CP-0001", "CP-0002"], "off")),
    ("partner", lambda c: c.get_command("cmd_5f2b9c0a1d3e4f60")),
    ("partner", lambda c: c.meter_values("CP-0001", start=T0, measurand="Power.Active.Import")),
    ("partner", lambda c: c.sessions("CP-0001", start=T0, end=T0)),
    ("partner", lambda c: c.events(types=["status"])),
    ("partner", lambda c: c.put_token("04A2B3C4", "Accepted", group_id="FLEET-7")),
    ("partner", lambda c: c.get_token("04A2B3C4")),
    ("partner", lambda c: c.update_token("04A2B3C4", status="Blocked", expires_at=None)),
    ("partner", lambda c: c.list_tokens(status="Blocked")),
    ("partner", lambda c: c.token_sessions("04A2B3C4", start=T0)),
    ("admin", lambda a: a.create_session(actor="alice")),
    ("admin", lambda a: a.get_session()),
    ("admin", lambda a: a.end_session()),
    ("admin", lambda a: a.create_partner("ACME", partner_id="acme", charger_quota=10)),
    ("admin", lambda a: a.list_partners(status="active")),
    ("admin", lambda a: a.get_partner("acme")),
    ("admin", lambda a: a.update_partner("acme", rate_limit_minute=None)),
    ("admin", lambda a: a.suspend_partner("acme")),
    ("admin", lambda a: a.reactivate_partner("acme")),
    ("admin", lambda a: a.delete_partner("acme")),
    ("admin", lambda a: a.issue_key("acme", name="production")),
    ("admin", lambda a: a.list_partner_keys("acme")),
    ("admin", lambda a: a.find_keys("evcs_4kT9")),
    ("admin", lambda a: a.rotate_key("key_8c1d2e3f4a5b6c7d", overlap_seconds=60)),
    ("admin", lambda a: a.revoke_key("key_8c1d2e3f4a5b6c7d")),
    ("admin", lambda a: a.register_charger("CP-0001", "ocpp1.6", partner_id="acme")),
    ("admin", lambda a: a.list_chargers(partner_id="acme", include_removed=True)),
    ("admin", lambda a: a.list_chargers(search="CP-", status=["CHARGING"], online=True)),
    ("admin", lambda a: a.status_events("CP-0001", start=T0)),
    ("admin", lambda a: a.meter_values("CP-0001", start=T0, bucket_seconds=60)),
    ("admin", lambda a: a.sessions("CP-0001", end=T0)),
    ("admin", lambda a: a.charger_commands("CP-0001", page_size=10)),
    ("admin", lambda a: a.events(types=["status"], charger_ids=["CP-0001"])),
    ("admin", lambda a: a.system()),
    ("admin", lambda a: a.get_charger("CP-0001")),
    ("admin", lambda a: a.decommission_charger("CP-0001")),
    ("admin", lambda a: a.assign_charger("CP-0001", "acme")),
    ("admin", lambda a: a.unassign_charger("CP-0001")),
    ("admin", lambda a: a.set_charger_password("CP-0001")),
    ("admin", lambda a: a.send_command("CP-0001", "Reset", {"type": "Soft"})),
    ("admin", lambda a: a.get_command("cmd_5f2b9c0a1d3e4f60")),
    ("admin", lambda a: a.send_local_list("CP-0001", "Full")),
    ("admin", lambda a: a.get_local_list("CP-0001")),
    ("admin", lambda a: a.create_token("04A2B3C4", partner_id="acme", expires_at=T0)),
    ("admin", lambda a: a.list_tokens(partner_id="acme", status="Accepted")),
    ("admin", lambda a: a.get_token("04A2B3C4")),
    ("admin", lambda a: a.update_token("04A2B3C4", status="Blocked", partner_id=None)),
    ("admin", lambda a: a.delete_token("04A2B3C4")),
    ("admin", lambda a: a.audit_log(actor="admin:alice", start=T0)),
]


def _operations() -> list[tuple[str, re.Pattern[str], str, dict[str, Any]]]:
    out = []
    for path, ops in DOCUMENT["paths"].items():
        pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$")
        for method, operation in ops.items():
            out.append((method.upper(), pattern, operation["operationId"], operation))
    return out


OPERATIONS = _operations()


def _example_answer(request: httpx.Request, reached: list[str]) -> httpx.Response:
    """The document's first success example for the operation the request reaches."""
    for method, pattern, operation_id, operation in OPERATIONS:
        if method == request.method and pattern.match(request.url.path):
            reached.append(operation_id)
            status = min(code for code in operation["responses"] if code.startswith("2"))
            [(media, content)] = operation["responses"][status]["content"].items()
            if media == "text/event-stream":
                return httpx.Response(
                    int(status), text=content["example"], headers={"content-type": media}
                )
            body = content["example"]
            if isinstance(body, dict) and "nextCursor" in body:
                # the first page leads on; the page its cursor asks for is the last
                last = "cursor" in request.url.params
                body = {**body, "nextCursor": None if last else "Q1AtMDAwMQ"}
            return httpx.Response(int(status), json=body)
    raise AssertionError(f"no operation for {request.method} {request.url.path}")


def test_every_operation_is_reachable_from_the_sync_client() -> None:
    reached: list[str] = []
    transport = httpx.MockTransport(lambda request: _example_answer(request, reached))
    partner = EVChargingClient("evcs_k", "http://gw", transport=transport)
    admin = EVChargingAdmin("token", "http://gw", actor="alice", transport=transport)
    for who, call in CALLS:
        result = call(partner if who == "partner" else admin)
        if isinstance(result, EventStream):
            event = next(iter(result))
            result.close()
            assert isinstance(event, m.StatusEvent) and event.event_id == "1767225600000-0"
        elif isinstance(result, Iterator):
            items = list(result)
            assert items and all(isinstance(item, BaseModel) for item in items)
        else:
            assert isinstance(result, BaseModel)
    assert set(reached) == {op_id for _, _, op_id, _ in OPERATIONS}


async def test_every_operation_is_reachable_from_the_async_client() -> None:
    reached: list[str] = []
    transport = httpx.MockTransport(lambda request: _example_answer(request, reached))
    partner = AsyncEVChargingClient("evcs_k", "http://gw", transport=transport)
    admin = AsyncEVChargingAdmin("token", "http://gw", transport=transport)
    for who, call in CALLS:
        result = call(partner if who == "partner" else admin)
        if isinstance(result, AsyncEventStream):
            event = await result.__anext__()
            await result.close()
            assert isinstance(event, m.StatusEvent)
        elif isinstance(result, AsyncIterator):
            items = [item async for item in result]
            assert items and all(isinstance(item, BaseModel) for item in items)
        else:
            assert isinstance(await result, BaseModel)
    assert set(reached) == {op_id for _, _, op_id, _ in OPERATIONS}


# Each result model and the schema it mirrors.
MODEL_SCHEMAS: dict[type[BaseModel], str] = {
    m.Connector: "ConnectorJson",
    m.Charger: "ChargerJson",
    m.ChargerPage: "ChargerPage",
    m.BatchStatus: "BatchStatusJson",
    m.CommandResult: "CommandResultJson",
    m.CommandAccepted: "CommandAcceptedJson",
    m.Command: "CommandJson",
    m.BatchItem: "BatchItemJson",
    m.BatchControlResult: "BatchControlJson",
    m.MeterValue: "MeterValueJson",
    m.MeterPage: "MeterPage",
    m.Session: "SessionJson",
    m.SessionPage: "SessionPage",
    m.Health: "HealthJson",
    m.ReadyChecks: "ReadyChecks",
    m.Ready: "ReadyJson",
    m.StatusEvent: "StatusEventJson",
    m.ConnectionEvent: "ConnectionEventJson",
    m.SessionEvent: "SessionEventJson",
    m.CommandEvent: "CommandEventJson",
    m.EffectiveLimits: "EffectiveLimits",
    m.Partner: "PartnerJson",
    m.PartnerPage: "PartnerPage",
    m.PartnerDeleted: "PartnerDeletedJson",
    m.ApiKey: "KeyJson",
    m.IssuedKey: "IssuedKeyJson",
    m.KeyList: "KeyListJson",
    m.AdminCharger: "AdminChargerJson",
    m.AdminChargerDetail: "AdminChargerDetailJson",
    m.ChargerReports: "ChargerReportsJson",
    m.FirmwareUpdate: "FirmwareUpdateJson",
    m.Upload: "UploadJson",
    m.ReportPart: "ReportJson",
    m.NotifyEvent: "NotifyEventJson",
    m.SecurityEvent: "SecurityEventJson",
    m.AdminChargerPage: "AdminChargerPage",
    m.ConsoleSession: "ConsoleSessionJson",
    m.ConsoleSessionEnded: "ConsoleSessionEndedJson",
    m.StatusChange: "StatusChangeJson",
    m.StatusChangePage: "StatusChangePage",
    m.AdminCommand: "AdminCommandJson",
    m.AdminCommandPage: "AdminCommandPage",
    m.Node: "NodeJson",
    m.FleetCount: "FleetCountJson",
    m.RecorderShard: "RecorderShardJson",
    m.RecorderState: "RecorderJson",
    m.SystemState: "SystemJson",
    m.RegisteredCharger: "RegisteredChargerJson",
    m.OperatorCommandResult: "OperatorCommandResultJson",
    m.OperatorCommandAccepted: "OperatorCommandAcceptedJson",
    m.LocalListSent: "LocalListSentJson",
    m.LocalListEntry: "LocalListEntryJson",
    m.LocalList: "LocalListJson",
    m.AuditEntry: "AuditEntryJson",
    m.AuditPage: "AuditPage",
    m.Token: "TokenJson",
    m.TokenPage: "TokenPage",
    m.ErrorBody: "ErrorBody",
}


def _nullable(schema: dict[str, Any]) -> bool:
    if not {"type", "anyOf", "$ref", "enum", "const"} & set(schema):
        return True  # any JSON value
    return any(option.get("type") == "null" for option in schema.get("anyOf", []))


def _allows_none(annotation: Any) -> bool:
    if annotation is Any or annotation is None:
        return True
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_allows_none(arg) for arg in typing.get_args(annotation))
    return annotation is type(None)


def test_every_response_schema_has_a_model() -> None:
    used = set()
    for ops in DOCUMENT["paths"].values():
        for operation in ops.values():
            for answer in operation["responses"].values():
                for content in answer.get("content", {}).values():
                    ref = content["schema"].get("$ref", "")
                    used.add(ref.rsplit("/", 1)[-1])
    used |= {"StatusEventJson", "ConnectionEventJson", "SessionEventJson", "CommandEventJson"}
    used.discard("")
    assert used <= set(MODEL_SCHEMAS.values())


@pytest.mark.parametrize("model", MODEL_SCHEMAS, ids=lambda model: model.__name__)
def test_models_match_the_schemas(model: type[BaseModel]) -> None:
    schema = DOCUMENT["components"]["schemas"][MODEL_SCHEMAS[model]]
    properties: dict[str, Any] = schema["properties"]
    fields = {
        info.alias or name: info
        for name, info in model.model_fields.items()
        if not info.exclude  # client-side only: replayed, event_id, type
    }
    assert set(fields) == set(properties)
    for name, prop in properties.items():
        assert _allows_none(fields[name].annotation) == _nullable(prop), name
