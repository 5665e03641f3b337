"""The benchmark suite runs end to end (`--quick`), so it cannot rot. No timing assertions."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from shared.settings import Settings


# Its own 420 s budget governs, not the suite's default per-test timeout: the benchmarks start
# servers and load generators, which take several times longer on a busy 2-core machine.
@pytest.mark.timeout(480)
async def test_quick_benchmark_prints_its_table(settings: Settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {
        **os.environ,
        "EVCS_DATABASE_URL": str(settings.database_url),
        "EVCS_REDIS_URL": str(settings.redis_url),
        "EVCS_DATA_DIR": str(tmp_path),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench",
        "--quick",
        "--runs",
        "1",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 420)
    assert process.returncode == 0, err.decode()[-3000:]
    table = out.decode()
    # the machine's speed, timed at the start and at the end
    assert err.decode().count("additions in a Python loop took") == 2, err.decode()[-3000:]
    assert "| ingest | csms per core |" in table
    assert "| cluster | ingest, cluster, 3 primaries |" in table
    # partners read from the cluster too, and every read was answered
    assert "| cluster | batch of 100: requests/s at saturation, cluster, 3 primaries |" in table
    assert "answers were not 2xx" not in table, table
    # the csms's stops for garbage collection were read during the storm
    assert "| storm | csms stopped for garbage collection per storm, 1 worker(s) |" in table
    # the fleet came back whole after its csms restart
    assert "| fleet | chargers not back after the restart | 0.00 |" in table, table
    # the commands were timed while the telemetry load ran, and that load was answered
    assert "| control | telemetry answered while measured |" in table, table
    # and the gateway timed each stage of those commands
    assert "note: control: in the gateway, p50 / p99 of a command's stages" in table, table
    rows = [line for line in table.splitlines() if line.startswith(("| ingest", "| control"))]
    # every figure was measured ("n/a" marks a figure with no runs)
    assert rows and all("n/a" not in row for row in rows), table
