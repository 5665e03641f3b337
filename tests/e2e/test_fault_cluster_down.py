"""A Redis Cluster that cannot serve every slot (a primary without a replica is gone): while it
is down chargers get CALLERROR InternalError and partners 503, nothing is acknowledged that is
not stored, and everything carries on once the node is back. Uses a cluster of its own."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import asyncpg
import redis

from shared import embedded_cluster
from shared.settings import Settings
from tests.e2e import cluster_faults
from tests.e2e.test_fault_harness import deployment, eventually, lost_and_duplicates, report

SHARDS = 3


def _state(port: int) -> str:
    try:
        with cluster_faults.node(port) as client:
            return str(client.cluster("info").get("cluster_state"))
    except redis.RedisError:
        return "unreachable"


async def test_a_cluster_without_an_owner_for_some_slots_acknowledges_nothing(
    settings: Settings, pool: asyncpg.Pool, uid: str, tmp_path: Path
) -> None:
    with cluster_faults.own_cluster(SHARDS, replicas=0) as cluster:
        async with deployment(
            settings,
            pool,
            cluster.url,
            f"cd{uid}",
            tmp_path,
            shards=SHARDS,
            chargers=6,
            warm_up=100,
        ) as system:
            fleet, layout, procs = system.fleet, cluster.layout, system.procs
            survivor = layout.ports[1]
            # a primary without a replica dies: once its peers notice, a third of the slots
            # has no owner and the whole cluster refuses (cluster-require-full-coverage)
            await asyncio.to_thread(cluster_faults.kill, cluster.folder, layout, layout.ports[0])
            await eventually(
                lambda: asyncio.to_thread(lambda: _state(survivor) == "fail"), "the cluster down"
            )
            down_at = time.monotonic()
            errors_at_down, acked_at_down = fleet.errors["InternalError"], fleet.acked_total

            async def refused() -> bool:
                return fleet.errors["InternalError"] >= errors_at_down + 3

            await eventually(refused, "chargers told InternalError", procs=procs)
            statuses: list[int] = []
            for cp in system.ids[:3]:
                async with system.http.get(f"{system.api}/chargers/{cp}/status") as response:
                    statuses.append(response.status)
                    body = await response.json()
            acked_while_down = fleet.acked_total - acked_at_down

            await asyncio.to_thread(embedded_cluster.start, cluster.folder, SHARDS, 0)
            back_at = time.monotonic()
            acked_at_back = fleet.acked_total
            await eventually(
                lambda: system.acked_at_least(acked_at_back + 50), "storing again", procs=procs
            )
            storing_s = time.monotonic() - back_at

            async def status_served() -> bool:
                url = f"{system.api}/chargers/{system.ids[0]}/status"
                async with system.http.get(url) as response:
                    return response.status == 200

            await eventually(status_served, "partners served again", procs=procs)
            await fleet.stop_sending()
            lost, duplicates, stored = await lost_and_duplicates(pool, fleet)
            report(
                "Redis Cluster down (slots without an owner)",
                down_s=back_at - down_at,
                internal_errors_while_down=fleet.errors["InternalError"] - errors_at_down,
                acked_while_down=acked_while_down,
                status_reads_while_down=statuses,
                storing_after_s=storing_s,
                acked=fleet.acked_total,
                stored=stored,
                lost=lost,
                duplicates=duplicates,
            )
            assert statuses == [503, 503, 503], body
            assert body["statusCode"] == 503 and body["error"] == "Service Unavailable"
            assert lost == 0
            assert duplicates == 0
            for proc in procs:
                assert proc.alive, proc.tail()
