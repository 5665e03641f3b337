"""A Redis Cluster primary killed under load: its replica takes over and csms, recorder and
gateway carry on by themselves, none restarted. Measured with and without WAIT (a charger is
answered only once a replica holds its message): what a failover loses of what was
acknowledged. Uses a cluster of its own (it kills one of its nodes)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import asyncpg
import pytest

from shared.settings import Settings
from tests.e2e import cluster_faults
from tests.e2e.test_fault_harness import deployment, eventually, lost_and_duplicates, report

SHARDS = 3


@pytest.mark.parametrize("wait_replicas", [0, 1], ids=["no-wait", "wait-1"])
async def test_primary_failover_under_load(
    settings: Settings, pool: asyncpg.Pool, uid: str, tmp_path: Path, wait_replicas: int
) -> None:
    with cluster_faults.own_cluster(SHARDS, replicas=1) as cluster:
        async with deployment(
            settings,
            pool,
            cluster.url,
            f"fo{uid}",
            tmp_path,
            shards=SHARDS,
            EVCS_REDIS_WAIT_REPLICAS=str(wait_replicas),
        ) as system:
            fleet, layout = system.fleet, cluster.layout
            shard = system.keys.stream(0)
            # the primary of the first stream shard dies without a word to its peers
            victim = await asyncio.to_thread(cluster_faults.owner_port, layout, shard)
            acked_at_kill = fleet.acked_total
            errors_at_kill = sum(fleet.errors.values())
            killed_at = time.monotonic()
            await asyncio.to_thread(cluster_faults.kill, cluster.folder, layout, victim)
            await asyncio.to_thread(cluster_faults.wait_for_new_owner, layout, shard, victim)
            promoted_s = time.monotonic() - killed_at

            promoted_acked = fleet.acked_total
            await eventually(
                lambda: system.acked_at_least(promoted_acked + 100),
                "csms storing again",
                procs=system.procs,
            )
            storing_s = time.monotonic() - killed_at

            async def command_works() -> bool:
                url = f"{system.api}/chargers/{system.ids[0]}/control"
                async with system.http.post(url, json={"action": "on"}) as r:
                    return r.status == 200

            await eventually(
                command_works, "a command through gateway and csms", procs=system.procs
            )
            commands_s = time.monotonic() - killed_at
            await fleet.stop_sending()
            lost, duplicates, stored = await lost_and_duplicates(pool, fleet)
            report(
                f"Redis primary failover (WAIT {wait_replicas})",
                promoted_after_s=promoted_s,
                csms_storing_after_s=storing_s,
                commands_ok_after_s=commands_s,
                refused_during_failover=sum(fleet.errors.values()) - errors_at_kill,
                acked_during_failover=promoted_acked - acked_at_kill,
                acked=fleet.acked_total,
                stored=stored,
                lost=lost,
                duplicates=duplicates,
            )
            for proc in system.procs:
                assert proc.alive, proc.tail()
            assert duplicates == 0
            if wait_replicas:
                assert lost == 0  # what a replica held before the answer survives the failover
