"""Slots moved between Redis Cluster primaries while chargers send: the slots of the chargers'
hashes, of every stream shard and of the csms node's command channel move (clients meet ASK
while a slot migrates and MOVED after). Nothing acknowledged is lost, nothing is stored twice,
commands still reach the charger. Uses a cluster of its own."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import asyncpg
from redis.crc import key_slot

from shared.settings import Settings
from tests.e2e import cluster_faults
from tests.e2e.test_fault_harness import deployment, eventually, lost_and_duplicates, report

SHARDS = 3


async def test_slots_move_while_chargers_send(
    settings: Settings, pool: asyncpg.Pool, uid: str, tmp_path: Path
) -> None:
    with cluster_faults.own_cluster(SHARDS, replicas=0) as cluster:
        async with deployment(
            settings, pool, cluster.url, f"rs{uid}", tmp_path, shards=SHARDS
        ) as system:
            keys, fleet, layout = system.keys, system.fleet, cluster.layout
            moving = [keys.charger(cp) for cp in system.ids]
            moving += [*keys.streams(), keys.node_channel(system.node_id)]
            started = time.monotonic()
            keys_moved = 0
            slots = sorted({key_slot(k.encode()) for k in moving})
            for slot in slots:
                key = next(k for k in moving if key_slot(k.encode()) == slot)
                source = await asyncio.to_thread(cluster_faults.owner_port, layout, key)
                target = layout.ports[(layout.ports.index(source) + 1) % SHARDS]
                keys_moved += await asyncio.to_thread(
                    cluster_faults.move_slot, layout, slot, source, target
                )
                await asyncio.sleep(0.1)  # chargers keep sending between the moves
            moving_s = time.monotonic() - started
            acked_at_end = fleet.acked_total
            await eventually(
                lambda: system.acked_at_least(acked_at_end + 100),
                "storing after",
                procs=system.procs,
            )

            async def command_works() -> bool:
                url = f"{system.api}/chargers/{system.ids[0]}/control"
                async with system.http.post(url, json={"action": "on"}) as r:
                    return r.status == 200

            await eventually(command_works, "a command after the moves", procs=system.procs)
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
            for proc in system.procs:
                assert proc.alive, proc.tail()
            assert lost == 0
            assert duplicates == 0
