"""The ops endpoints of csms and recorder: liveness, readiness from real checks, metrics."""

from __future__ import annotations

import asyncio

import aiohttp
import asyncpg
import redis.asyncio as redis

from recorder import app as recorder_app
from shared.ops_http import OpsServer, run_checks


async def test_checks_report_ok_failure_and_timeout() -> None:
    async def ok() -> None:
        return None

    async def broken() -> None:
        raise ConnectionError("refused")

    async def hangs() -> None:
        await asyncio.sleep(10)

    states = await run_checks({"a": ok, "b": broken, "c": hangs}, timeout=0.1)
    assert states == {"a": "ok", "b": "unavailable", "c": "unavailable"}


async def test_ready_reflects_real_redis_and_postgresql(
    rds: redis.Redis, pool: asyncpg.Pool
) -> None:
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    good = OpsServer(
        "127.0.0.1", 0, {"redis": rds.ping, "postgresql": lambda: pool.fetchval("SELECT 1")}
    )
    bad = OpsServer("127.0.0.1", 0, {"redis": dead.ping})
    await good.start()
    await bad.start()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{good.port}/health") as r:
                assert r.status == 200 and (await r.json())["status"] == "ok"
            async with http.get(f"http://127.0.0.1:{good.port}/health/ready") as r:
                body = await r.json()
                assert r.status == 200
                assert body["checks"] == {"redis": "ok", "postgresql": "ok"}
            async with http.get(f"http://127.0.0.1:{bad.port}/health") as r:
                assert r.status == 200  # alive, only not ready
            async with http.get(f"http://127.0.0.1:{bad.port}/health/ready") as r:
                body = await r.json()
                assert r.status == 503
                assert body["checks"] == {"redis": "unavailable"}
                assert "redis" in body["message"]
            recorder_app.ENTRIES.inc(0)
            async with http.get(f"http://127.0.0.1:{good.port}/metrics") as r:
                text = await r.text()
                assert r.status == 200 and r.content_type == "text/plain"
                assert "evcs_recorder_entries_total" in text
                assert "evcs_recorder_pending_entries" in text
    finally:
        await good.stop()
        await bad.stop()
        await dead.aclose()
