"""The charger simulators of both versions against a real node: every command through the bus,
each answered by the simulator and checked by the csms against the official schemas (an answer
that broke them would end FAILED)."""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as redis

from csms.server import CsmsApp
from shared.bus import Action, Outcome
from shared.redis_keys import F, Keys
from simulators import SimCharger16, SimCharger201
from simulators.charger import SimCharger
from tests.csms.conftest import Command, until

V16: list[tuple[Action, dict[str, Any], Outcome]] = [
    (Action.GET_CONFIGURATION, {"key": ["HeartbeatInterval"]}, Outcome.ACCEPTED),
    (Action.CHANGE_CONFIGURATION, {"key": "HeartbeatInterval", "value": "90"}, Outcome.ACCEPTED),
    (Action.TRIGGER, {"message": "Heartbeat"}, Outcome.ACCEPTED),
    (Action.CLEAR_CACHE, {}, Outcome.ACCEPTED),
    (Action.UNLOCK, {"connectorId": 1}, Outcome.ACCEPTED),
    (Action.START, {"connectorId": 1, "idTag": "SIM"}, Outcome.ACCEPTED),
    (Action.STOP, {"connectorId": 1}, Outcome.ACCEPTED),
    (Action.AVAILABILITY, {"operative": False}, Outcome.ACCEPTED),
    (Action.AVAILABILITY, {"operative": True}, Outcome.ACCEPTED),
    (Action.RESET, {"type": "Soft"}, Outcome.ACCEPTED),
]
V201: list[tuple[Action, dict[str, Any], Outcome]] = [
    (
        Action.GET_VARIABLES,
        {
            "getVariableData": [
                {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
            ]
        },
        Outcome.ACCEPTED,
    ),
    (
        Action.SET_VARIABLES,
        {
            "setVariableData": [
                {
                    "attributeValue": "90",
                    "component": {"name": "OCPPCommCtrlr"},
                    "variable": {"name": "HeartbeatInterval"},
                }
            ]
        },
        Outcome.ACCEPTED,
    ),
    (Action.GET_BASE_REPORT, {"reportBase": "ConfigurationInventory"}, Outcome.ACCEPTED),
    (Action.TRIGGER, {"message": "StatusNotification", "connectorId": 1}, Outcome.ACCEPTED),
    (Action.UNLOCK, {"connectorId": 1}, Outcome.ACCEPTED),
    (Action.START, {"connectorId": 1, "idTag": "SIM"}, Outcome.ACCEPTED),
    (Action.STOP, {"connectorId": 1}, Outcome.ACCEPTED),
    (Action.AVAILABILITY, {"operative": False, "connectorId": 1}, Outcome.ACCEPTED),
    (Action.AVAILABILITY, {"operative": True, "connectorId": 1}, Outcome.ACCEPTED),
    (Action.RESET, {"type": "Hard"}, Outcome.ACCEPTED),
]


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1"])
async def test_simulator_carries_out_every_command(
    csms: CsmsApp, command: Command, rds: redis.Redis, keys: Keys, uid: str, protocol: str
) -> None:
    cp = f"SIM-{protocol[-3:]}-{uid}"
    cls: type[SimCharger] = SimCharger16 if protocol == "ocpp1.6" else SimCharger201
    sim = cls(cp, csms.url, meter_interval=0.2, reconnect_delay=0.05)
    await sim.start()
    try:
        for action, params, expected in V16 if protocol == "ocpp1.6" else V201:
            if action is Action.STOP:
                # the simulator reports its remote start; the csms learns the transaction
                await until(lambda: _has_tx(rds, keys, cp))
            reply = await command(csms.node.node_id, cp, action, params)
            assert reply.outcome is expected, (action, reply)
        # after the reset the simulator reconnects and boots again
        await until(lambda: _online_again(rds, keys, cp, sim))
    finally:
        await sim.stop()


async def _has_tx(rds: redis.Redis, keys: Keys, cp: str) -> bool:
    return bool(await rds.hget(keys.charger(cp), F.TRANSACTION + "1"))


async def _online_again(rds: redis.Redis, keys: Keys, cp: str, sim: SimCharger) -> bool:
    return sim.boot_count >= 2 and await rds.hget(keys.charger(cp), F.ONLINE) == "1"
