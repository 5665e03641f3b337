"""`evcs csms --workers 2`: two processes share one port, each a node of its own."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import redis.asyncio as redis
from websockets.asyncio.client import connect

from shared.redis_keys import F, Keys
from shared.settings import Settings
from tests.e2e.test_fault_harness import free_port


async def test_workers_share_the_port_and_register_as_separate_nodes(
    settings: Settings, rds: redis.Redis, uid: str
) -> None:
    port = free_port()
    prefix = f"wk{uid}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVCS_")}
    env.update(
        EVCS_DATABASE_URL=str(settings.database_url),
        EVCS_REDIS_URL=str(settings.redis_url),
        EVCS_REDIS_PREFIX=prefix,
        EVCS_CSMS_PORT=str(port),
        EVCS_NODE_ID=f"wk-{uid}",
        EVCS_CHARGER_AUTH="false",
        EVCS_BOOT_UNKNOWN="Accepted",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "evcs", "csms", "--workers", "2", env=env
    )
    keys = Keys(prefix)
    try:
        for _ in range(200):
            members = await rds.zrange(keys.nodes, 0, -1)
            if len(members) == 2:
                break
            await asyncio.sleep(0.05)
        assert sorted(members) == [f"wk-{uid}-0", f"wk-{uid}-1"]
        opened = [
            await connect(f"ws://127.0.0.1:{port}/ocpp/W{uid}-{i}", subprotocols=["ocpp1.6"])  # type: ignore[list-item]
            for i in range(24)
        ]
        for ws in opened:
            await ws.send('[2, "1", "Heartbeat", {}]')
            assert (await ws.recv()).startswith("[3,")
        nodes = {await rds.hget(keys.charger(f"W{uid}-{i}"), F.NODE) for i in range(24)}
        assert nodes == {f"wk-{uid}-0", f"wk-{uid}-1"}  # the kernel spread them over both
        for ws in opened:
            await ws.close()
    finally:
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 30)
    assert code == 0
