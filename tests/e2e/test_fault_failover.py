"""A Redis Cluster primary killed under load: its replica takes over and csms, recorder and
gateway carry on by themselves, none restarted. Measured with and without WAIT (a charger is
answered only once a replica holds its message): what a failover loses of what was
acknowledged. Uses a cluster of its own (it kills one of its nodes)."""

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
    folder = Path(tempfile.mkdtemp(prefix="evcs-failover-"))
    yield folder
    embedded_cluster.stop(folder)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("wait_replicas", [0, 1], ids=["no-wait", "wait-1"])
async def test_primary_failover_under_load(
    settings: Settings,
    pool: asyncpg.Pool,
    uid: str,
    tmp_path: Path,
    cluster_folder: Path,
    wait_replicas: int,
) -> None:
    url = await asyncio.to_thread(embedded_cluster.start, cluster_folder, SHARDS, 1)
    layout = embedded_cluster.read_layout(cluster_folder)
    prefix = f"fo{uid}"
    s = settings.model_copy(
        update={"redis_url": url, "redis_prefix": prefix, "stream_shards": SHARDS}
    )
    keys = Keys.of(s)
    rds = await connect(url)
    ids = [f"FO{uid}-{i}" for i in range(CHARGERS)]
    api_key = await seed(pool, rds, keys, f"fo{uid}", ids)
    env = process_env(s, prefix, EVCS_REDIS_WAIT_REPLICAS=str(wait_replicas))
    ops = free_port()
    (csms, csms_port), (gateway, gateway_port), recorder = await asyncio.gather(
        start_csms("csms", f"fo{uid}", env, tmp_path),
        start_gateway("gateway", env, tmp_path),
        spawn("recorder", ["recorder"], {**env, "EVCS_OPS_PORT": str(ops)}, tmp_path),
    )
    procs = [csms, gateway, recorder]
    fleet = Fleet(f"ws://127.0.0.1:{csms_port}/ocpp", ids)
    api = f"http://127.0.0.1:{gateway_port}/api/v1"
    http = aiohttp.ClientSession(headers={"x-api-key": api_key})
    try:
        await eventually(lambda: http_ok(f"http://127.0.0.1:{ops}/health"), "recorder", procs=procs)
        await fleet.start()
        await eventually(lambda: _at_least(fleet, 200), "load flowing", procs=procs)

        # the primary of the first stream shard dies without a word to its peers
        victim = await asyncio.to_thread(cluster_faults.owner_port, layout, keys.stream(0))
        acked_at_kill = fleet.acked_total
        errors_at_kill = sum(fleet.errors.values())
        killed_at = time.monotonic()
        await asyncio.to_thread(cluster_faults.kill, cluster_folder, layout, victim)
        await asyncio.to_thread(cluster_faults.wait_for_new_owner, layout, keys.stream(0), victim)
        promoted_s = time.monotonic() - killed_at

        promoted_acked = fleet.acked_total
        await eventually(
            lambda: _at_least(fleet, promoted_acked + 100), "csms storing again", procs=procs
        )
        storing_s = time.monotonic() - killed_at

        async def command_works() -> bool:
            async with http.post(f"{api}/chargers/{ids[0]}/control", json={"action": "on"}) as r:
                return r.status == 200

        await eventually(command_works, "a command through gateway and csms", procs=procs)
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
        for proc in procs:
            assert proc.alive, proc.tail()
        assert duplicates == 0
        if wait_replicas:
            assert lost == 0  # what a replica held before the answer survives the failover
    finally:
        await http.close()
        await fleet.stop()
        for proc in procs:
            await proc.stop(signal.SIGTERM)
        await rds.aclose()


async def _at_least(fleet: Fleet, n: int) -> bool:
    return fleet.acked_total >= n
