"""Redis restarted under load: what chargers send meanwhile gets CALLERROR InternalError, never a
false acknowledgement; csms, gateway and recorder reconnect by themselves; the append-only file
keeps the stream. Uses its own Redis: the session's is shared."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from pathlib import Path

import asyncpg
import pytest

from shared import embedded
from shared.redis_client import connect
from shared.settings import Settings
from tests.e2e.test_fault_harness import Fleet, deployment, eventually, lost_and_duplicates, report

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
    async with deployment(settings, pool, redis_url, f"fx{uid}", tmp_path, chargers=4) as system:
        fleet, procs, http, api, ids = (
            system.fleet,
            system.procs,
            system.http,
            system.api,
            system.ids,
        )
        stream = system.keys.stream(0)

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


async def _at_least(fleet: Fleet, n: int) -> bool:
    return fleet.acked_total >= n
