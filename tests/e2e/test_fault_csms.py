"""A csms node killed (SIGKILL) or stopped (SIGTERM) under load: its chargers reconnect through
the load balancer to the other node, commands follow them, nothing acknowledged is lost."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg
import pytest
import redis.asyncio as redis
from aiohttp.test_utils import TestServer

from evcs.lb import LoadBalancer
from gateway.app import create_app
from recorder.app import Recorder
from shared.redis_keys import Keys
from shared.settings import Settings
from tests.e2e.test_fault_harness import (
    Fleet,
    Proc,
    eventually,
    lost_and_duplicates,
    node_of,
    process_env,
    report,
    seed,
    start_csms,
)

CHARGERS = 8


@dataclass
class Cluster:
    settings: Settings
    redis: redis.Redis
    keys: Keys
    nodes: list[Proc]
    node_ids: list[str]
    lb: LoadBalancer
    fleet: Fleet
    gateway_url: str
    api_key: str

    async def holders(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {n: [] for n in self.node_ids}
        for cp in self.fleet.ids:
            node = await node_of(self.redis, self.keys, cp)
            if node in out:
                out[node].append(cp)
        return out


@pytest.fixture
async def cluster(
    backend: tuple[Settings, redis.Redis], pool: asyncpg.Pool, uid: str, tmp_path: Path
) -> AsyncIterator[Cluster]:
    """Two csms node processes behind a load balancer, on one Redis server or a cluster."""
    settings, rds = backend
    prefix = f"fc{uid}"
    s = settings.model_copy(
        update={
            "redis_prefix": prefix,
            "node_ttl": 3.0,
            # the faults are under test here, not the partner's rate limit
            "rate_limit_minute": 1_000_000,
            "rate_limit_hour": 1_000_000,
        }
    )
    keys = Keys.of(s)
    ids = [f"FC{uid}-{i}" for i in range(CHARGERS)]
    api_key = await seed(pool, rds, keys, f"fc{uid}", ids)
    env = process_env(s, prefix)
    node_ids = [f"fc{uid}-a", f"fc{uid}-b"]
    started = await asyncio.gather(*(start_csms(f"csms-{n}", n, env, tmp_path) for n in node_ids))
    nodes = [proc for proc, _ in started]
    lb = LoadBalancer([("127.0.0.1", port) for _, port in started], check_interval=0.2)
    await lb.start("127.0.0.1", 0)
    recorder = Recorder(s, rds, pool)
    recording = asyncio.create_task(recorder.run())
    gateway = TestServer(create_app(s, redis=rds, pool=pool), host="127.0.0.1")
    await gateway.start_server()
    fleet = Fleet(f"ws://127.0.0.1:{lb.port}/ocpp", ids)
    try:
        await fleet.start()
        yield Cluster(
            s, rds, keys, nodes, node_ids, lb, fleet, str(gateway.make_url("/api/v1")), api_key
        )
    finally:
        await fleet.stop()
        await gateway.close()
        recorder.stop()
        await recording
        await lb.stop()
        await asyncio.gather(*(n.stop(signal.SIGKILL) for n in nodes))


async def _command(http: aiohttp.ClientSession, cluster: Cluster, cp: str, action: str) -> int:
    async with http.post(
        f"{cluster.gateway_url}/chargers/{cp}/control",
        json={"action": action},
        headers={"x-api-key": cluster.api_key},
    ) as response:
        await response.read()
        return response.status


async def _spread(cluster: Cluster) -> dict[str, list[str]]:
    async def both_hold_chargers() -> bool:
        held = await cluster.holders()
        return sum(map(len, held.values())) == CHARGERS and all(held.values())

    await eventually(both_hold_chargers, "chargers spread over both nodes", procs=cluster.nodes)
    await eventually(
        lambda: _true(cluster.fleet.acked_total >= 200), "load flowing", procs=cluster.nodes
    )
    return await cluster.holders()


async def _true(value: bool) -> bool:
    return value


async def test_csms_node_killed_under_load(
    cluster: Cluster, pool: asyncpg.Pool, topology: str
) -> None:
    held = await _spread(cluster)
    victim, survivor = 0, 1
    moved = held[cluster.node_ids[victim]]
    acked_before = cluster.fleet.acked_total

    killed_at = time.monotonic()
    await cluster.nodes[victim].stop(signal.SIGKILL)

    async def all_on_survivor() -> bool:
        held = await cluster.holders()
        return len(held[cluster.node_ids[survivor]]) == CHARGERS

    # the registry follows the chargers: each one now names the surviving node
    await eventually(all_on_survivor, "chargers back on the other node", procs=cluster.nodes[1:])
    reconnect_s = time.monotonic() - killed_at

    async with aiohttp.ClientSession() as http:

        async def commands_work() -> bool:
            codes = [await _command(http, cluster, cp, "on") for cp in moved]
            return all(code == 200 for code in codes)

        await eventually(commands_work, "commands to the moved chargers", timeout=20)
        command_s = time.monotonic() - killed_at

    acked_after_kill = cluster.fleet.acked_total - acked_before
    await eventually(
        lambda: _true(cluster.fleet.acked_total - acked_before >= 200), "load after the kill"
    )
    await cluster.fleet.stop_sending()
    lost, duplicates, stored = await lost_and_duplicates(pool, cluster.fleet)
    report(
        f"csms SIGKILL ({topology})",
        chargers_moved=len(moved),
        reconnect_s=reconnect_s,
        commands_ok_after_s=command_s,
        acked=cluster.fleet.acked_total,
        acked_during_failover=acked_after_kill,
        unanswered=cluster.fleet.unanswered,
        lost=lost,
        duplicates=duplicates,
    )
    assert moved, "the killed node held no chargers"
    assert stored >= cluster.fleet.acked_total
    assert lost == 0
    assert duplicates == 0


@pytest.mark.parametrize("topology", ["standalone"], indirect=True)
async def test_csms_node_stopped_with_sigterm_answers_what_it_took(
    cluster: Cluster, pool: asyncpg.Pool
) -> None:
    held = await _spread(cluster)
    leaving = held[cluster.node_ids[0]]
    statuses: list[int] = []
    failures: list[str] = []
    stop = asyncio.Event()

    async def keep_commanding(http: aiohttp.ClientSession, cp: str) -> None:
        action = "on"
        while not stop.is_set():
            try:
                statuses.append(await _command(http, cluster, cp, action))
            except aiohttp.ClientError as exc:  # a request dropped without an answer
                failures.append(repr(exc))
            action = "off" if action == "on" else "on"

    async with aiohttp.ClientSession() as http:
        commanders = [asyncio.create_task(keep_commanding(http, cp)) for cp in leaving]
        await eventually(lambda: _true(len(statuses) >= 2 * len(leaving)), "commands flowing")
        stopped_at = time.monotonic()
        code = await cluster.nodes[0].stop(signal.SIGTERM)
        stop_s = time.monotonic() - stopped_at

        async def all_on_survivor() -> bool:
            return len((await cluster.holders())[cluster.node_ids[1]]) == CHARGERS

        await eventually(all_on_survivor, "chargers back on the other node")
        reconnect_s = time.monotonic() - stopped_at
        during = len(statuses)
        await eventually(
            lambda: _true(len(statuses) >= during + len(leaving)), "commands after the stop"
        )
        stop.set()
        await asyncio.gather(*commanders)
    await cluster.fleet.stop_sending()
    lost, duplicates, _ = await lost_and_duplicates(pool, cluster.fleet)
    report(
        "csms SIGTERM",
        exit_code=code,
        stop_s=stop_s,
        reconnect_s=reconnect_s,
        commands=len(statuses),
        command_statuses=dict(sorted(collections_counter(statuses).items())),
        commands_without_answer=len(failures),
        charger_calls_unanswered=cluster.fleet.unanswered,
        lost=lost,
        duplicates=duplicates,
    )
    assert code == 0, cluster.nodes[0].tail()
    assert failures == []
    # every command got the platform's answer: the charger's, offline, node unreachable, timeout
    assert set(statuses) <= {200, 409, 503, 504}
    assert lost == 0
    assert duplicates == 0


def collections_counter(values: list[int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out
