"""Redis restarted under load: what chargers send meanwhile gets CALLERROR InternalError, never a
false acknowledgement; csms, gateway and recorder reconnect by themselves; the append-only file
keeps the stream. Uses its own Redis: the session's is shared."""

from __future__ import annotations

import asyncio
import shutil
import signal
import tempfile
import time
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from shared import embedded
from shared.redis_client import connect
from shared.redis_keys import Keys
from shared.settings import Settings
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

DOWN_S = 3.0


@pytest.fixture
def redis_folder() -> object:
    folder = Path(tempfile.mkdtemp(prefix="evcs-redis-")) / "redis"
    yield folder
    embedded.stop_redis(folder)
    shutil.rmtree(folder.parent, ignore_errors=True)


async def test_redis_restart_under_load(
    settings: Settings, pool: asyncpg.Pool, uid: str, tmp_path: Path, redis_folder: Path
) -> None:
    redis_url = await asyncio.to_thread(embedded.start_redis, redis_folder)
    prefix = f"fx{uid}"
    s = settings.model_copy(update={"redis_url": redis_url, "redis_prefix": prefix})
    keys = Keys(prefix)
    rds = await connect(redis_url)
    ids = [f"FX{uid}-{i}" for i in range(4)]
    api_key = await seed(pool, rds, keys, f"fx{uid}", ids)
    env = process_env(s, prefix)
    ops = free_port()
    (csms, csms_port), (gateway, gateway_port), recorder = await asyncio.gather(
        start_csms("csms", f"fx{uid}", env, tmp_path),
        start_gateway("gateway", env, tmp_path),
        spawn("recorder", ["recorder"], {**env, "EVCS_OPS_PORT": str(ops)}, tmp_path),
    )
    procs = [csms, gateway, recorder]
    fleet = Fleet(f"ws://127.0.0.1:{csms_port}/ocpp", ids)
    api = f"http://127.0.0.1:{gateway_port}/api/v1"
    headers = {"x-api-key": api_key}
    http = aiohttp.ClientSession(headers=headers)
    stream = keys.stream(0)
    try:
        await eventually(lambda: http_ok(f"http://127.0.0.1:{ops}/health"), "recorder", procs=procs)
        await fleet.start()
        await eventually(lambda: _at_least(fleet, 200), "load flowing", procs=procs)

        # Redis goes down (SIGTERM: it writes its append-only file and exits)
        await asyncio.to_thread(embedded.stop_redis, redis_folder)
        down_at = time.monotonic()
        acked_at_stop = fleet.acked_total

        async def refused() -> bool:
            return fleet.errors["InternalError"] >= 3

        first_refusal_s = await eventually(refused, "chargers told InternalError", procs=procs)
        await asyncio.sleep(max(0.0, DOWN_S - (time.monotonic() - down_at)))
        errors_while_down = fleet.errors["InternalError"]
        acked_while_down = fleet.acked_total - acked_at_stop

        assert await asyncio.to_thread(embedded.start_redis, redis_folder) == redis_url
        back_at = time.monotonic()
        acked_at_start = fleet.acked_total

        await eventually(
            lambda: _at_least(fleet, acked_at_start + 50), "csms storing again", procs=procs
        )
        csms_back_s = time.monotonic() - back_at

        async def status_served() -> bool:
            async with http.get(f"{api}/chargers/{ids[0]}/status") as response:
                return response.status == 200

        await eventually(status_served, "gateway reading Redis again", procs=procs)

        async def command_works() -> bool:
            async with http.post(f"{api}/chargers/{ids[0]}/control", json={"action": "on"}) as r:
                return r.status == 200

        await eventually(command_works, "a command through gateway and csms", procs=procs)
        commands_back_s = time.monotonic() - back_at
        await fleet.stop_sending()
        lost, duplicates, stored = await lost_and_duplicates(pool, fleet)
        fresh = await connect(redis_url)  # this test's own client is not what is under test
        first_id = (await fresh.xrange(stream, count=1))[0][0]
        await fresh.aclose()
        report(
            "Redis restart",
            down_s=back_at - down_at,
            third_internal_error_after_s=first_refusal_s,
            internal_errors_while_down=errors_while_down,
            acked_while_down=acked_while_down,
            csms_storing_after_s=csms_back_s,
            commands_ok_after_s=commands_back_s,
            acked=fleet.acked_total,
            stored=stored,
            lost=lost,
            duplicates=duplicates,
        )
        assert errors_while_down >= 3
        assert lost == 0  # includes anything acknowledged while Redis was down
        assert duplicates == 0
        # the stream came back from the append-only file: it still starts before the restart
        assert int(first_id.split("-")[0]) / 1000 < time.time() - (time.monotonic() - down_at)
        for proc in procs:
            assert proc.alive, proc.tail()
    finally:
        await http.close()
        await fleet.stop()
        for proc in procs:
            await proc.stop(signal.SIGTERM)
        await rds.aclose()


async def _at_least(fleet: Fleet, n: int) -> bool:
    return fleet.acked_total >= n
