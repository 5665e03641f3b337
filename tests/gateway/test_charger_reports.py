"""What chargers report for their operator, end to end: a charger on a real socket sends firmware
and log upload progress, security events, NotifyReport and NotifyEvent; the csms answers and
puts them on the stream, a real recorder stores them, and the admin API shows the latest."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import redis.asyncio as redis

from csms.server import CsmsApp
from recorder.app import Recorder
from shared import registry
from shared.redis_keys import Keys
from shared.settings import Settings
from tests.csms.conftest import open_raw
from tests.gateway.support import MakeGateway, admin_headers, eventually

TS = "2026-11-30T10:00:00Z"


@pytest.fixture
async def own_streams(settings: Settings, uid: str) -> Settings:
    return settings.model_copy(
        update={"redis_prefix": f"{settings.redis_prefix}rep{uid}", "csms_port": 0}
    )


@pytest.fixture
async def system(
    own_streams: Settings, rds: redis.Redis, pool: asyncpg.Pool
) -> AsyncIterator[CsmsApp]:
    node = CsmsApp(own_streams.model_copy(update={"node_id": "reports"}))
    await node.start()
    recorder = Recorder(own_streams, rds, pool)
    running = asyncio.ensure_future(recorder.run())
    yield node
    recorder.stop()
    await running
    await node.stop()


async def test_the_admin_sees_what_a_201_charger_last_reported(
    system: CsmsApp,
    own_streams: Settings,
    make_gateway: MakeGateway,
    pool: asyncpg.Pool,
    rds: redis.Redis,
    uid: str,
) -> None:
    gw = await make_gateway(redis_prefix=own_streams.redis_prefix)
    cp = f"REP-{uid}"
    await registry.register_charger(pool, rds, Keys.of(own_streams), cp, protocol="ocpp2.0.1")
    raw = await open_raw(system, cp, "ocpp2.0.1")
    await raw.call(
        "BootNotification",
        {"reason": "PowerUp", "chargingStation": {"vendorName": "V", "model": "M"}},
    )
    reports: list[tuple[str, dict[str, Any]]] = [
        ("FirmwareStatusNotification", {"status": "Downloading", "requestId": 42}),
        ("SecurityEventNotification", {"type": "StartupOfTheDevice", "timestamp": TS}),
        ("FirmwareStatusNotification", {"status": "Installed", "requestId": 42}),
        ("LogStatusNotification", {"status": "Uploaded", "requestId": 7}),
        (
            "SecurityEventNotification",
            {"type": "FirmwareUpdated", "timestamp": TS, "techInfo": "2.1.0"},
        ),
        (
            "NotifyReport",
            {
                "requestId": 9,
                "generatedAt": TS,
                "seqNo": 0,
                "tbc": False,
                "reportData": [
                    {
                        "component": {"name": "OCPPCommCtrlr"},
                        "variable": {"name": "HeartbeatInterval"},
                        "variableAttribute": [{"value": "300"}],
                    }
                ],
            },
        ),
        (
            "NotifyEvent",
            {
                "generatedAt": TS,
                "seqNo": 0,
                "eventData": [
                    {
                        "eventId": 1,
                        "timestamp": TS,
                        "trigger": "Delta",
                        "actualValue": "Faulted",
                        "eventNotificationType": "HardWiredNotification",
                        "component": {"name": "Connector", "evse": {"id": 1, "connectorId": 1}},
                        "variable": {"name": "AvailabilityState"},
                    }
                ],
            },
        ),
    ]
    for action, payload in reports:
        [kind, _, answer] = await raw.call(action, payload)
        assert (kind, answer) == (3, {})

    shown: dict[str, Any] = {}

    async def recorded() -> bool:
        resp = await gw.client.get(f"/api/v1/admin/chargers/{cp}", headers=admin_headers())
        shown.update((await resp.json())["reports"])
        return len(shown["securityEvents"]) == 2 and shown["lastEvent"] is not None

    await eventually(recorded)
    assert shown["firmwareUpdate"]["status"] == "Installed"
    assert shown["firmwareUpdate"]["requestId"] == 42
    assert (shown["lastUpload"]["kind"], shown["lastUpload"]["status"]) == ("Log", "Uploaded")
    assert shown["lastReport"]["requestId"] == 9 and shown["lastReport"]["items"] == 1
    assert shown["lastEvent"]["eventData"][0]["actualValue"] == "Faulted"
    assert [e["type"] for e in shown["securityEvents"]] == [
        "FirmwareUpdated",
        "StartupOfTheDevice",
    ]
    assert shown["securityEvents"][0]["techInfo"] == "2.1.0"


async def test_a_16_charger_reports_diagnostics_and_nothing_reported_is_null(
    system: CsmsApp,
    own_streams: Settings,
    make_gateway: MakeGateway,
    pool: asyncpg.Pool,
    rds: redis.Redis,
    uid: str,
) -> None:
    gw = await make_gateway(redis_prefix=own_streams.redis_prefix)
    quiet, busy = f"QUIET-{uid}", f"DIAG-{uid}"
    for cp in (quiet, busy):
        await registry.register_charger(pool, rds, Keys.of(own_streams), cp, protocol="ocpp1.6")
    resp = await gw.client.get(f"/api/v1/admin/chargers/{quiet}", headers=admin_headers())
    assert (await resp.json())["reports"] == {
        "firmwareUpdate": None,
        "lastUpload": None,
        "lastReport": None,
        "lastEvent": None,
        "securityEvents": [],
    }
    raw = await open_raw(system, busy)
    await raw.call("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
    await raw.call("DiagnosticsStatusNotification", {"status": "Uploading"})
    await raw.call("DiagnosticsStatusNotification", {"status": "Uploaded"})

    async def uploaded() -> bool:
        resp = await gw.client.get(f"/api/v1/admin/chargers/{busy}", headers=admin_headers())
        upload = (await resp.json())["reports"]["lastUpload"]
        return upload is not None and upload["status"] == "Uploaded"

    await eventually(uploaded)
