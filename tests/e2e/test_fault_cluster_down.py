"""A Redis Cluster that cannot serve every slot (a primary without a replica is gone): while it
is down chargers get CALLERROR InternalError and partners 503, nothing is acknowledged that is
not stored, and everything carries on once the node is back. Uses a cluster of its own."""

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
import redis

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
CHARGERS = 6


@pytest.fixture
def cluster_folder() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="evcs-down-"))
    yield folder
    embedded_cluster.stop(folder)
    shutil.rmtree(folder, ignore_errors=True)


def _state(port: int) -> str:
    try:
        with cluster_faults.node(port) as client:
            return str(client.cluster("info").get("cluster_state"))
    except redis.RedisError:
        return "unreachable"


async def test_a_cluster_without_an_owner_for_some_slots_acknowledges_nothing(
    settings: Settings, pool: asyncpg.Pool, uid: str, tmp_path: Path, cluster_folder: Path
) -> None:
    url = await asyncio.to_thread(embedded_cluster.start, cluster_folder, SHARDS, 0)
    layout = embedded_cluster.read_layout(cluster_folder)
    prefix = f"cd{uid}"
    s = settings.model_copy(
        update={"redis_url": url, "redis_prefix": prefix, "stream_shards": SHARDS}
    )
    keys = Keys.of(s)
    rds = await connect(url)
    ids = [f"CD{uid}-{i}" for i in range(CHARGERS)]
    api_key = await seed(pool, rds, keys, f"cd{uid}", ids)
    await rds.aclose()
    env = process_env(s, prefix)
    ops = free_port()
    (csms, csms_port), (gateway, gateway_port), recorder = await asyncio.gather(
        start_csms("csms", f"cd{uid}", env, tmp_path),
        start_gateway("gateway", env, tmp_path),
        spawn("recorder", ["recorder"], {**env, "EVCS_OPS_PORT": str(ops)}, tmp_path),
    )
    procs = [csms, gateway, recorder]
    fleet = Fleet(f"ws://127.0.0.1:{csms_port}/ocpp", ids)
    api = f"http://127.0.0.1:{gateway_port}/api/v1"
    http = aiohttp.ClientSession(headers={"x-api-key": api_key})
    survivor = layout.ports[1]
    try:
        await eventually(lambda: http_ok(f"http://127.0.0.1:{ops}/health"), "recorder", procs=procs)
        await fleet.start()
        await eventually(lambda: _at_least(fleet, 100), "load flowing", procs=procs)

        # a primary without a replica dies: once its peers notice, a third of the slots
        # has no owner and the whole cluster refuses (cluster-require-full-coverage)
        victim = layout.ports[0]
        await asyncio.to_thread(cluster_faults.kill, cluster_folder, layout, victim)
        await eventually(
            lambda: asyncio.to_thread(lambda: _state(survivor) == "fail"), "the cluster down"
        )
        down_at = time.monotonic()
        errors_at_down, acked_at_down = fleet.errors["InternalError"], fleet.acked_total

        async def refused() -> bool:
            return fleet.errors["InternalError"] >= errors_at_down + 3

        await eventually(refused, "chargers told InternalError", procs=procs)
        statuses: list[int] = []
        for cp in ids[:3]:
            async with http.get(f"{api}/chargers/{cp}/status") as response:
                statuses.append(response.status)
                body = await response.json()
        acked_while_down = fleet.acked_total - acked_at_down

        await asyncio.to_thread(embedded_cluster.start, cluster_folder, SHARDS, 0)
        back_at = time.monotonic()
        acked_at_back = fleet.acked_total
        await eventually(lambda: _at_least(fleet, acked_at_back + 50), "storing again", procs=procs)
        storing_s = time.monotonic() - back_at

        async def status_served() -> bool:
            async with http.get(f"{api}/chargers/{ids[0]}/status") as response:
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
    finally:
        await http.close()
        await fleet.stop()
        for proc in procs:
            await proc.stop(signal.SIGTERM)


async def _at_least(fleet: Fleet, n: int) -> bool:
    return fleet.acked_total >= n
