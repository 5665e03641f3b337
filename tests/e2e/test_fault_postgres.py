"""PostgreSQL stopped under load: chargers keep being answered, the stream holds the events, and
everything lands once PostgreSQL is back. Uses its own PostgreSQL: the session's is shared."""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
import tempfile
import time
from pathlib import Path

import aiohttp
import redis.asyncio as redis

from csms.server import CsmsApp
from shared import db, embedded
from shared.settings import Settings
from tests.e2e.test_fault_harness import (
    Fleet,
    eventually,
    free_port,
    http_ok,
    lost_and_duplicates,
    process_env,
    report,
    spawn,
)

OUTAGE_S = 10.0  # long enough for several failed batches and the retry backoff to reach its cap


async def _metric(url: str, name: str) -> float:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        text = await response.text()
    match = re.search(rf"^{name} (\S+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


async def _ready_status(url: str) -> int:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status


async def test_postgres_outage_under_load(
    settings: Settings, rds: redis.Redis, uid: str, tmp_path: Path
) -> None:
    # a short folder: PostgreSQL's socket path must stay under the Unix limit
    folder = Path(tempfile.mkdtemp(prefix="evcs-pg-")) / "pg"
    database_url = await asyncio.to_thread(embedded.start_postgres, folder)
    try:
        await db.migrate(database_url)
        pool = await db.create_pool(database_url, max_size=2)
        prefix = f"fp{uid}"
        s = settings.model_copy(
            update={
                "database_url": database_url,
                "redis_prefix": prefix,
                "csms_port": 0,
                "node_id": f"fp{uid}",
            }
        )
        node = CsmsApp(s)
        await node.start()
        fleet = Fleet(node.url, [f"FP{uid}-{i}" for i in range(4)])
        ops = free_port()
        recorder = await spawn(
            "recorder", ["recorder"], process_env(s, prefix, EVCS_OPS_PORT=str(ops)), tmp_path
        )
        metrics_url = f"http://127.0.0.1:{ops}/metrics"
        ready_url = f"http://127.0.0.1:{ops}/health/ready"
        stream = f"{prefix}:events:{{0}}"
        try:
            await eventually(lambda: http_ok(ready_url), "recorder ready", procs=[recorder])
            await fleet.start()

            async def recording() -> bool:
                return await _metric(metrics_url, "evcs_recorder_entries_total") >= 100

            await eventually(recording, "recording", procs=[recorder])

            await pool.close()
            await asyncio.to_thread(embedded.stop_postgres, folder)
            down_at = time.monotonic()
            acked_at_stop = fleet.acked_total
            length_at_stop = await rds.xlen(stream)

            async def write_failed() -> bool:
                return await _metric(metrics_url, "evcs_recorder_write_errors_total") > 0

            await eventually(write_failed, "the recorder noticing", procs=[recorder])
            ready_during = await _ready_status(ready_url)
            await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_at)))
            acked_during = fleet.acked_total - acked_at_stop
            grew = await rds.xlen(stream) - length_at_stop

            await asyncio.to_thread(embedded.start_postgres, folder)
            outage_s = time.monotonic() - down_at
            back_at = time.monotonic()
            pool = await db.create_pool(database_url, max_size=2)
            await fleet.stop_sending()
            lost, duplicates, stored = await lost_and_duplicates(pool, fleet, timeout=40)
            catch_up_s = time.monotonic() - back_at
            report(
                "PostgreSQL outage",
                outage_s=outage_s,
                acked_during_outage=acked_during,
                stream_growth=grew,
                charger_errors=sum(fleet.errors.values()),
                recorder_ready_during=ready_during,
                catch_up_s=catch_up_s,
                acked=fleet.acked_total,
                stored=stored,
                lost=lost,
                duplicates=duplicates,
            )
            assert acked_during > 0  # chargers kept being answered
            assert not fleet.errors
            assert grew > 0
            assert ready_during == 503
            assert lost == 0
            assert duplicates == 0
            await eventually(lambda: http_ok(ready_url), "recorder ready again", procs=[recorder])
        finally:
            await fleet.stop()
            await node.stop()
            await recorder.stop(signal.SIGTERM)
            await pool.close()
    finally:
        await asyncio.to_thread(embedded.stop_postgres, folder)
        shutil.rmtree(folder.parent, ignore_errors=True)
