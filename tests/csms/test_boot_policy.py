"""BootNotification policy: known chargers Accepted, unknown ones by setting; before an
Accepted boot only BootNotification (and what a TriggerMessage asked for) is answered."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
import redis.asyncio as redis

from shared import registry
from shared.bus import Action, Outcome
from shared.redis_keys import Keys
from tests.csms.conftest import Command, StartCsms, open_raw

BOOT = {
    "ocpp1.6": {"chargePointVendor": "V", "chargePointModel": "M"},
    "ocpp2.0.1": {"chargingStation": {"model": "M", "vendorName": "V"}, "reason": "PowerUp"},
}
TS = "2026-01-01T00:00:00Z"
STATUS = {
    "ocpp1.6": {"connectorId": 1, "errorCode": "NoError", "status": "Available", "timestamp": TS},
    "ocpp2.0.1": {"timestamp": TS, "connectorStatus": "Available", "evseId": 1, "connectorId": 1},
}


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1"])
async def test_pending_charger_may_only_boot_and_send_what_was_triggered(
    start_csms: StartCsms, command: Command, uid: str, protocol: str
) -> None:
    app = await start_csms(node_id=f"pend-{uid}", boot_unknown="Pending", boot_retry_interval=42)
    cp = f"PEND-{uid}"
    c = await open_raw(app, cp, protocol)
    boot = await c.call("BootNotification", BOOT[protocol])
    assert boot[2]["status"] == "Pending" and boot[2]["interval"] == 42
    for action, payload in (("Heartbeat", {}), ("StatusNotification", STATUS[protocol])):
        reply = await c.call(action, payload)
        assert reply[0] == 4 and reply[2] == "SecurityError", action
    # the central system may not start a session on a pending charger ...
    refused = await command(app.node.node_id, cp, Action.START, {"connectorId": 1})
    assert refused.outcome is Outcome.NOT_SUPPORTED and "pending" in (refused.message or "")
    # ... but may ask it for a message, which the charger may then send
    pending = asyncio.create_task(
        command(app.node.node_id, cp, Action.TRIGGER, {"message": "StatusNotification"})
    )
    trigger = await asyncio.wait_for(c.recv_call(), 5)
    assert trigger[2] == "TriggerMessage"
    await c.answer(trigger[1], {"status": "Accepted"})
    assert (await pending).outcome is Outcome.ACCEPTED
    assert (await c.call("StatusNotification", STATUS[protocol]))[0] == 3
    assert (await c.call("Heartbeat", {}))[2] == "SecurityError"
    await c.ws.close()


async def test_rejected_charger_gets_nothing_but_its_boot_answers(
    start_csms: StartCsms, command: Command, uid: str
) -> None:
    app = await start_csms(node_id=f"rej-{uid}", boot_unknown="Rejected")
    cp = f"REJ-{uid}"
    c = await open_raw(app, cp, "ocpp2.0.1")
    boot = await c.call("BootNotification", BOOT["ocpp2.0.1"])
    assert boot[2]["status"] == "Rejected"
    assert boot[2]["interval"] == app.settings.boot_retry_interval
    assert (await c.call("Heartbeat", {}))[2] == "SecurityError"
    for action in (Action.TRIGGER, Action.AVAILABILITY):
        reply = await command(app.node.node_id, cp, action, {"message": "Heartbeat"})
        assert reply.outcome is Outcome.NOT_SUPPORTED, action
    # the charger may try again later: still Rejected, still answered
    assert (await c.call("BootNotification", BOOT["ocpp2.0.1"]))[2]["status"] == "Rejected"
    await c.ws.close()


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1"])
async def test_known_charger_is_accepted_whatever_the_policy(
    start_csms: StartCsms,
    pool: asyncpg.Pool,
    rds: redis.Redis,
    keys: Keys,
    uid: str,
    protocol: str,
) -> None:
    app = await start_csms(node_id=f"known-{uid}", boot_unknown="Rejected")
    cp = f"KNOWN-{protocol[-3:]}-{uid}"
    await registry.register_charger(pool, rds, keys, cp)
    c = await open_raw(app, cp, protocol)
    # a known charger that reconnects (after a node failover, say) need not boot first
    assert (await c.call("Heartbeat", {}))[0] == 3
    boot = await c.call("BootNotification", BOOT[protocol])
    assert boot[2]["status"] == "Accepted"
    assert boot[2]["interval"] == app.settings.heartbeat_interval
    await c.ws.close()
