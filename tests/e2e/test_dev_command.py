"""`evcs dev` as a user runs it: real child processes, the demo data, clean stop on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import aiohttp

from shared.settings import Settings
from tests.e2e.test_fault_harness import free_port


def _read_env(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


async def test_dev_runs_the_system_and_stops_cleanly(
    settings: Settings, tmp_path: Path, uid: str
) -> None:
    env = {
        **os.environ,
        "EVCS_DATABASE_URL": str(settings.database_url),
        "EVCS_REDIS_URL": str(settings.redis_url),
        "EVCS_REDIS_PREFIX": f"dev{uid}",
        "EVCS_DATA_DIR": str(tmp_path / ".evcs"),
        "EVCS_CSMS_PORT": str(free_port()),
        "EVCS_GATEWAY_PORT": str(free_port()),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "evcs",
        "dev",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    env_file = tmp_path / ".evcs" / "dev.env"
    try:
        deadline = time.monotonic() + 90
        while not env_file.exists():
            assert process.returncode is None, "evcs dev exited early"
            assert time.monotonic() < deadline, "dev.env never appeared"
            await asyncio.sleep(0.2)
        values = _read_env(env_file)
        assert {
            "EVCS_CSMS_URL",
            "EVCS_GATEWAY_URL",
            "EVCS_DEMO_API_KEY",
            "EVCS_ADMIN_TOKEN",
            "EVCS_DEMO_CHARGERS",
        } <= set(values)
        chargers = values["EVCS_DEMO_CHARGERS"].split(",")
        assert len(chargers) >= 2
        headers = {"x-api-key": values["EVCS_DEMO_API_KEY"]}
        base = values["EVCS_GATEWAY_URL"]
        async with aiohttp.ClientSession(headers=headers) as http:
            for cp in chargers[:2]:
                url = f"{base}/chargers/{cp}/status"
                for _ in range(200):
                    async with http.get(url) as r:
                        body = await r.json()
                    if r.status == 200 and body["status"] == "AVAILABLE":
                        break
                    await asyncio.sleep(0.1)
                assert body["status"] == "AVAILABLE", body
                async with http.post(f"{base}/chargers/{cp}/control", json={"action": "on"}) as r:
                    assert r.status == 200 and (await r.json())["status"] == "Accepted"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            out, _ = await asyncio.wait_for(process.communicate(), 40)
        except TimeoutError:
            process.kill()
            raise
    text = out.decode()
    assert process.returncode == 0, text
    assert "PERMISSIVE" in text and "stopped" in text
