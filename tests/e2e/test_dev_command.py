"""`evcs dev` as a user runs it: real child processes, the demo data, clean stop on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import aiohttp

from evcs import demo
from shared import embedded
from shared.ports import port_free
from shared.redis_client import parse_url
from shared.settings import Settings
from tests.e2e.test_fault_harness import free_port


async def _dev(
    env: dict[str, str], data: Path, *args: str, stop: signal.Signals = signal.SIGTERM
) -> dict[str, str]:
    """Run `evcs dev ARGS` until a demo charger took a command, then send it `stop`; returns
    the values it wrote to dev.env (and asserts it stopped cleanly)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "evcs",
        "dev",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    env_file = data / "dev.env"
    try:
        deadline = time.monotonic() + 90
        while not env_file.exists():
            assert process.returncode is None, "evcs dev exited early"
            assert time.monotonic() < deadline, "dev.env never appeared"
            await asyncio.sleep(0.2)
        values = demo.read_env(env_file)
        assert env_file.read_text().startswith("export EVCS_")  # `. dev.env` exports them
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
        process.send_signal(stop)
        try:
            out, _ = await asyncio.wait_for(process.communicate(), 40)
        except TimeoutError:
            process.kill()
            raise
    text = out.decode()
    assert process.returncode == 0, text
    assert "PERMISSIVE" in text and "stopped" in text
    return values


def _env(settings: Settings, uid: str, data: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVCS_")}
    env.update(
        EVCS_DATABASE_URL=str(settings.database_url),
        EVCS_REDIS_PREFIX=f"dev{uid}",
        EVCS_DATA_DIR=str(data),
        EVCS_CSMS_PORT=str(free_port()),
        EVCS_GATEWAY_PORT=str(free_port()),
        **extra,
    )
    return env


async def test_dev_runs_the_system_and_stops_cleanly(
    settings: Settings, tmp_path: Path, uid: str
) -> None:
    data = tmp_path / ".evcs"
    await _dev(_env(settings, uid, data, EVCS_REDIS_URL=str(settings.redis_url)), data)


async def test_dev_on_an_embedded_redis_cluster(
    settings: Settings, tmp_path: Path, uid: str
) -> None:
    data = tmp_path / ".evcs"
    values = await _dev(
        _env(settings, uid, data), data, "--redis-shards", "3", "--redis-replicas", "0"
    )
    hosts = parse_url(values["EVCS_REDIS_URL"]).hosts
    assert len(hosts) == 3 and values["EVCS_STREAM_SHARDS"] == "3"
    # it stopped the cluster it started
    assert all(embedded.redis_state(port) == "down" for _, port in hosts)


async def test_dev_stops_what_it_started_when_its_terminal_closes(
    settings: Settings, tmp_path: Path, uid: str
) -> None:
    """SIGHUP: else csms, gateway and recorder live on, and the next `make dev` finds its
    ports taken."""
    data = tmp_path / ".evcs"
    env = _env(settings, uid, data, EVCS_REDIS_URL=str(settings.redis_url))
    await _dev(env, data, stop=signal.SIGHUP)
    for port in (env["EVCS_CSMS_PORT"], env["EVCS_GATEWAY_PORT"]):
        assert port_free("127.0.0.1", int(port))
