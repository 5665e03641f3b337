"""A recorder killed in the middle of a batch, or stopped with SIGTERM: another recorder takes
over the entries it held, and PostgreSQL ends with every acknowledged event exactly once."""

from __future__ import annotations

import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg
import pytest
import redis.asyncio as redis

from csms.server import CsmsApp
from shared.redis_keys import RECORDER_GROUP, Keys
from shared.settings import Settings
from tests.e2e.test_fault_harness import (
    Fleet,
    Proc,
    eventually,
    free_port,
    http_ok,
    lost_and_duplicates,
    process_env,
    recorded,
    report,
    spawn,
)


@dataclass
class Setup:
    settings: Settings
    keys: Keys
    env: dict[str, str]
    fleet: Fleet
    logs: Path

    async def recorder(self, name: str) -> tuple[Proc, int]:
        ops = free_port()
        proc = await spawn(name, ["recorder"], {**self.env, "EVCS_OPS_PORT": str(ops)}, self.logs)
        await eventually(
            lambda: http_ok(f"http://127.0.0.1:{ops}/health/ready"), f"{name} ready", procs=[proc]
        )
        return proc, ops

    async def pending(self, rds: redis.Redis) -> dict[str, int]:
        """Entries delivered but not acknowledged, per consumer."""
        info = await rds.xpending(self.keys.stream(0), RECORDER_GROUP)
        return {c["name"]: int(c["pending"]) for c in info["consumers"]}


@pytest.fixture
async def setup(
    settings: Settings, rds: redis.Redis, uid: str, tmp_path: Path
) -> AsyncIterator[Setup]:
    prefix = f"fr{uid}"
    s = settings.model_copy(update={"redis_prefix": prefix, "csms_port": 0, "node_id": f"fr{uid}"})
    node = CsmsApp(s)
    await node.start()
    fleet = Fleet(node.url, [f"FR{uid}-{i}" for i in range(4)])
    env = process_env(s, prefix, EVCS_RECORDER_BATCH="50", EVCS_RECORDER_CLAIM_IDLE_MS="1000")
    try:
        await fleet.start()
        yield Setup(s, Keys(prefix), env, fleet, tmp_path)
    finally:
        await fleet.stop()
        await node.stop()


async def _some_recorded(pool: asyncpg.Pool, fleet: Fleet) -> bool:
    have, _ = await recorded(pool, fleet.ids)
    return sum(map(len, have.values())) >= 100


async def test_recorder_killed_mid_batch(
    setup: Setup, pool: asyncpg.Pool, rds: redis.Redis
) -> None:
    first, _ = await setup.recorder("recorder-1")
    procs: list[Proc] = [first]
    try:
        await eventually(lambda: _some_recorded(pool, setup.fleet), "recording", procs=procs)
        # Hold the next batch inside its transaction: the recorder has read its entries and
        # waits on this lock, so the kill lands mid-batch.
        blocker = await pool.acquire()
        try:
            tx = blocker.transaction()
            await tx.start()
            await blocker.execute("LOCK TABLE meter_values IN SHARE ROW EXCLUSIVE MODE")

            async def stuck_in_batch() -> bool:
                waiting = await pool.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND datname = current_database() AND query ~ '^(COPY|INSERT INTO) .*meter_values'"
                )
                return bool(waiting) and sum((await setup.pending(rds)).values()) > 0

            await eventually(stuck_in_batch, "recorder waiting inside a batch", procs=procs)
            held = sum((await setup.pending(rds)).values())
            await first.stop(signal.SIGKILL)
            await tx.rollback()
        finally:
            await pool.release(blocker)

        killed_at = time.monotonic()
        second, ops = await setup.recorder("recorder-2")
        procs.append(second)

        async def claimed() -> bool:
            return sum((await setup.pending(rds)).values()) == 0

        await eventually(claimed, "the held entries claimed and written", procs=[second])
        takeover_s = time.monotonic() - killed_at
        await setup.fleet.stop_sending()
        lost, duplicates, stored = await lost_and_duplicates(pool, setup.fleet)
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{ops}/metrics") as response,
        ):
            metrics = await response.text()
        report(
            "recorder SIGKILL mid-batch",
            entries_held_at_kill=held,
            takeover_s=takeover_s,
            acked=setup.fleet.acked_total,
            stored=stored,
            lost=lost,
            duplicates=duplicates,
        )
        assert held > 0
        assert lost == 0
        assert duplicates == 0
        assert "evcs_recorder_entries_total" in metrics
        await eventually(claimed, "nothing left pending", procs=[second])
    finally:
        for proc in procs:
            await proc.stop(signal.SIGKILL)


async def test_recorder_stopped_with_sigterm_finishes_its_batch(
    setup: Setup, pool: asyncpg.Pool, rds: redis.Redis
) -> None:
    first, _ = await setup.recorder("recorder-1")
    procs: list[Proc] = [first]
    try:
        await eventually(lambda: _some_recorded(pool, setup.fleet), "recording", procs=procs)
        started = time.monotonic()
        code = await first.stop(signal.SIGTERM)
        stop_s = time.monotonic() - started
        # it acknowledged what it wrote and left nothing half done
        left_pending = sum((await setup.pending(rds)).values())
        second, _ = await setup.recorder("recorder-2")
        procs.append(second)
        await setup.fleet.stop_sending()
        lost, duplicates, _ = await lost_and_duplicates(pool, setup.fleet)
        report(
            "recorder SIGTERM",
            exit_code=code,
            stop_s=stop_s,
            pending_after_stop=left_pending,
            acked=setup.fleet.acked_total,
            lost=lost,
            duplicates=duplicates,
        )
        assert code == 0, first.tail()
        assert left_pending == 0
        assert lost == 0
        assert duplicates == 0
    finally:
        for proc in procs:
            await proc.stop(signal.SIGKILL)
