"""Slots moved between Redis Cluster primaries while chargers send: the slots of the chargers'
hashes, of every stream shard and of the csms node's command channel move (clients meet ASK
while a slot migrates and MOVED after). Nothing acknowledged is lost, nothing is stored twice,
commands still reach the charger. Uses a cluster of its own."""

from __future__ import annotations

import asyncio
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from redis.crc import key_slot

from shared import embedded_cluster
from shared.redis_client import connect
from shared.redis_keys import Keys
from shared.settings import Settings
from tests.e2e import cluster_faults
from tests.e2e.test_fault_harness import (
    Fleet,
    eventually,
    free_port,
    http_ok,
    lost_and_duplicates,
    process_env,
    report,
    seed,
    spawn,
    start_csms,
    start_gateway,
)

SHARDS = 3
CHARGERS = 8


@pytest.fixture
def cluster_folder() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="evcs-reshard-"))
    yield folder
    embedded_cluster.stop(folder)
    shutil.rmtree(folder, ignore_errors=True)


async def test_slots_move_while_chargers_send(
    settings: Settings, pool: asyncpg.Pool, uid: str, tmp_path: Path, cluster_folder: Path
) -> None:
    url = await asyncio.to_thread(embedded_cluster.start, cluster_folder, SHARDS, 0)
    layout = embedded_cluster.read_layout(cluster_folder)
    prefix = f"rs{uid}"
    node_id = f"rs{uid}"
    s = settings.model_copy(
        update={"redis_url": url, "redis_prefix": prefix, "stream_shards": SHARDS}
    )
    keys = Keys.of(s)
    rds = await connect(url)
    ids = [f"RS{uid}-{i}" for i in range(CHARGERS)]
    api_key = await seed(pool, rds, keys, f"rs{uid}", ids)
    env = process_env(s, prefix)
    ops = free_port()
    (csms, csms_port), (gateway, gateway_port), recorder = await asyncio.gather(
        start_csms("csms", node_id, env, tmp_path),
        start_gateway("gateway", env, tmp_path),
        spawn("recorder", ["recorder"], {**env, "EVCS_OPS_PORT": str(ops)}, tmp_path),
    )
    procs = [csms, gateway, recorder]
    fleet = Fleet(f"ws://127.0.0.1:{csms_port}/ocpp", ids)
    api = f"http://127.0.0.1:{gateway_port}/api/v1"
    http = aiohttp.ClientSession(headers={"x-api-key": api_key})
    moving = [keys.charger(cp) for cp in ids] + keys.streams() + [keys.node_channel(node_id)]
    try:
        await eventually(lambda: http_ok(f"http://127.0.0.1:{ops}/health"), "recorder", procs=procs)
        await fleet.start()
        await eventually(lambda: _at_least(fleet, 200), "load flowing", procs=procs)

        started = time.monotonic()
        keys_moved = 0
        slots = sorted({key_slot(k.encode()) for k in moving})
        for slot in slots:
            source = await asyncio.to_thread(
                cluster_faults.owner_port, layout, _key_of(slot, moving)
            )
            target = layout.ports[(layout.ports.index(source) + 1) % SHARDS]
            keys_moved += await asyncio.to_thread(
                cluster_faults.move_slot, layout, slot, source, target
            )
            await asyncio.sleep(0.1)  # chargers keep sending between the moves
        moving_s = time.monotonic() - started
        acked_at_end = fleet.acked_total
        await eventually(lambda: _at_least(fleet, acked_at_end + 100), "storing after", procs=procs)

        async def command_works() -> bool:
            async with http.post(f"{api}/chargers/{ids[0]}/control", json={"action": "on"}) as r:
                return r.status == 200

        await eventually(command_works, "a command after the moves", procs=procs)
        await fleet.stop_sending()
        lost, duplicates, stored = await lost_and_duplicates(pool, fleet)
        report(
            "Redis resharding under load",
            slots_moved=len(slots),
            keys_moved=keys_moved,
            moving_s=moving_s,
            refused=sum(fleet.errors.values()),
            acked=fleet.acked_total,
            stored=stored,
            lost=lost,
            duplicates=duplicates,
        )
        for proc in procs:
            assert proc.alive, proc.tail()
        assert lost == 0
        assert duplicates == 0
    finally:
        await http.close()
        await fleet.stop()
        for proc in procs:
            await proc.stop(signal.SIGTERM)
        await rds.aclose()


def _key_of(slot: int, keys: list[str]) -> str:
    return next(k for k in keys if key_slot(k.encode()) == slot)


async def _at_least(fleet: Fleet, n: int) -> bool:
    return fleet.acked_total >= n
