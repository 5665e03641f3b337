"""`evcs dev --csms-nodes 2 --gateways 2`: the production topology on loopback, behind real
load balancers, as real child processes."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import aiohttp
import redis.asyncio as redis

from evcs import demo
from shared.redis_keys import F, Keys
from shared.settings import Settings
from tests.e2e.test_fault_harness import free_port


async def test_two_nodes_and_two_gateways_behind_load_balancers(
    settings: Settings, rds: redis.Redis, tmp_path: Path, uid: str
) -> None:
    prefix = f"topo{uid}"
    env = {
        **os.environ,
        "EVCS_DATABASE_URL": str(settings.database_url),
        "EVCS_REDIS_URL": str(settings.redis_url),
        "EVCS_REDIS_PREFIX": prefix,
        "EVCS_DATA_DIR": str(tmp_path / ".evcs"),
        "EVCS_CSMS_PORT": str(free_port()),
        "EVCS_GATEWAY_PORT": str(free_port()),
    }
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "evcs", "dev", "--csms-nodes", "2", "--gateways", "2"),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    env_file = tmp_path / ".evcs" / "dev.env"
    logs = tmp_path / ".evcs" / "logs"
    try:
        deadline = time.monotonic() + 90
        while not env_file.exists():
            assert process.returncode is None, "evcs dev exited early"
            assert time.monotonic() < deadline, "dev.env never appeared"
            await asyncio.sleep(0.2)
        values = demo.read_env(env_file)
        assert {p.name for p in logs.iterdir()} >= {
            "csms-1.log",
            "csms-2.log",
            "gateway-1.log",
            "gateway-2.log",
            "lb-csms.log",
            "lb-gateway.log",
            "recorder.log",
        }
        chargers = values["EVCS_DEMO_CHARGERS"].split(",")
        keys = Keys(prefix)

        async def nodes_of_chargers() -> set[str]:
            out = set()
            for cp in chargers:
                fields = await rds.hgetall(keys.charger(cp))
                if fields.get(F.ONLINE) == "1":
                    out.add(fields[F.NODE])
            return out

        async def all_online() -> bool:
            for cp in chargers:
                if await rds.hget(keys.charger(cp), F.ONLINE) != "1":
                    return False
            return True

        # the simulators start one process per protocol: wait for every demo charger
        for _ in range(300):
            if await all_online() and len(await nodes_of_chargers()) == 2:
                break
            await asyncio.sleep(0.1)
        # three chargers connected round robin through one address: both nodes hold some
        assert await nodes_of_chargers() == {"dev-csms-1", "dev-csms-2"}

        headers = {"x-api-key": values["EVCS_DEMO_API_KEY"]}
        base = values["EVCS_GATEWAY_URL"]
        async with aiohttp.ClientSession(
            headers=headers, connector=aiohttp.TCPConnector(force_close=True)
        ) as http:
            for cp in chargers:
                async with http.post(f"{base}/chargers/{cp}/control", json={"action": "on"}) as r:
                    body = await r.json()
                    assert r.status == 200 and body["status"] == "Accepted", body
            # every process serves its metrics on an ops port: 2 csms nodes, the recorder, and
            # the 2 gateways (whose public port has none)
            texts = []
            for url in values["EVCS_METRICS_URLS"].split(","):
                async with http.get(url) as r:
                    assert r.status == 200
                    texts.append(await r.text())
            assert len(texts) == 5
            assert sum("evcs_recorder_entries_total" in t for t in texts) == 1
            assert sum("evcs_gateway_requests_total" in t for t in texts) == 2
        # requests went through both gateways
        for name in ("gateway-1.log", "gateway-2.log"):
            assert '"route"' in (logs / name).read_text()
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            out, _ = await asyncio.wait_for(process.communicate(), 40)
        except TimeoutError:
            process.kill()
            raise
    text = out.decode()
    assert process.returncode == 0, text
    assert "stopped" in text
