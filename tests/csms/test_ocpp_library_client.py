"""An independent OCPP implementation as the charger: the `ocpp` library's ChargePoint, which
validates every frame it receives from the csms against the official schemas (answers and
CALLs alike) and refuses what does not match."""

from __future__ import annotations

import asyncio
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from websockets.asyncio.client import connect

from csms.server import CsmsApp
from shared.bus import Action, Outcome
from tests.csms.conftest import Command

TS = "2026-01-01T00:00:00Z"


class Library16(ChargePoint16):
    @on("ClearCache")
    def on_clear_cache(self, **_: Any) -> result16.ClearCache:
        return result16.ClearCache(status="Accepted")


class Library201(ChargePoint201):
    @on("GetBaseReport")
    def on_get_base_report(self, **_: Any) -> result201.GetBaseReport:
        return result201.GetBaseReport(status="Accepted")


async def test_ocpp16_through_the_ocpp_library(csms: CsmsApp, command: Command, uid: str) -> None:
    cp_id = f"LIB16-{uid}"
    async with connect(f"{csms.url}/{cp_id}", subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
        cp = Library16(cp_id, ws)
        reader = asyncio.create_task(cp.start())
        try:
            boot = await cp.call(
                call16.BootNotification(charge_point_model="M", charge_point_vendor="V"),
                suppress=False,
            )
            assert boot.status == "Accepted" and boot.interval > 0
            await cp.call(call16.Heartbeat(), suppress=False)
            await cp.call(
                call16.StatusNotification(
                    connector_id=1, error_code="NoError", status="Available", timestamp=TS
                ),
                suppress=False,
            )
            start = await cp.call(
                call16.StartTransaction(connector_id=1, id_tag="T", meter_start=0, timestamp=TS),
                suppress=False,
            )
            await cp.call(
                call16.MeterValues(
                    connector_id=1,
                    transaction_id=start.transaction_id,
                    meter_value=[{"timestamp": TS, "sampledValue": [{"value": "100"}]}],
                ),
                suppress=False,
            )
            await cp.call(
                call16.StopTransaction(
                    meter_stop=100, timestamp=TS, transaction_id=start.transaction_id
                ),
                suppress=False,
            )
            reply = await command(csms.node.node_id, cp_id, Action.CLEAR_CACHE)
            assert reply.outcome is Outcome.ACCEPTED
        finally:
            reader.cancel()


async def test_ocpp201_through_the_ocpp_library(csms: CsmsApp, command: Command, uid: str) -> None:
    cp_id = f"LIB201-{uid}"
    async with connect(f"{csms.url}/{cp_id}", subprotocols=["ocpp2.0.1"]) as ws:  # type: ignore[list-item]
        cp = Library201(cp_id, ws)
        reader = asyncio.create_task(cp.start())
        try:
            boot = await cp.call(
                call201.BootNotification(
                    charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp"
                ),
                suppress=False,
            )
            assert boot.status == "Accepted"
            await cp.call(call201.Heartbeat(), suppress=False)
            await cp.call(
                call201.StatusNotification(
                    timestamp=TS, connector_status="Available", evse_id=1, connector_id=1
                ),
                suppress=False,
            )
            await cp.call(
                call201.TransactionEvent(
                    event_type="Started",
                    timestamp=TS,
                    trigger_reason="Authorized",
                    seq_no=0,
                    transaction_info={"transaction_id": "lib-tx"},
                    id_token={"id_token": "T", "type": "ISO14443"},
                ),
                suppress=False,
            )
            await cp.call(
                call201.NotifyReport(request_id=1, generated_at=TS, seq_no=0, tbc=False),
                suppress=False,
            )
            reply = await command(
                csms.node.node_id, cp_id, Action.GET_BASE_REPORT, {"reportBase": "FullInventory"}
            )
            assert reply.outcome is Outcome.ACCEPTED
        finally:
            reader.cancel()
