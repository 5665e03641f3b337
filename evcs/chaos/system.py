"""The system `evcs soak` runs and breaks, in a folder of its own: embedded PostgreSQL and Redis
(one server, which the csms nodes reach through a LinkProxy, or a Redis Cluster), two csms
nodes and two gateways behind load balancers, two recorders, and a fleet of chargers of both
OCPP versions. Everything it starts it stops again, whatever happened in between."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from contextlib import AsyncExitStack
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import redis

from evcs.chaos.fleet import V16, V201, Fleet, seed
from evcs.chaos.ledger import Ledger
from evcs.chaos.processes import (
    CSMS,
    GATEWAY,
    Proc,
    eventually,
    process_env,
    spawn,
    start_listening,
)
from evcs.chaos.proxy import LinkProxy
from evcs.lb import LoadBalancer
from shared import db, embedded, embedded_cluster
from shared.redis_client import connect
from shared.redis_keys import Keys
from shared.settings import Settings

PREFIX = "soak"
NODES = 2  # csms nodes, gateways and recorders: each runs twice, so one can die
REPLICAS = 1  # per primary of the cluster: a primary can fail over


class System:
    def __init__(self, work: Path, shards: int, chargers_per_version: int, pause_s: float) -> None:
        self.work = work
        self.logs = work / "logs"
        self.shards = shards
        self.cluster = shards > 1
        self.pg_folder = work / "pg"
        self.redis_folder = work / "redis"
        v16 = [f"SOAK16-{i}" for i in range(chargers_per_version)]
        v201 = [f"SOAK201-{i}" for i in range(chargers_per_version)]
        self.protocols = {**dict.fromkeys(v16, V16), **dict.fromkeys(v201, V201)}
        self.ids = v16 + v201
        self.ledger = Ledger(self.ids)
        self.pause_s = pause_s
        self.csms: list[Proc] = []
        self.csms_ports: list[int] = []
        self.gateways: list[Proc] = []
        self.gateway_ports: list[int] = []
        self.recorders: list[Proc] = []
        self.proxy: LinkProxy | None = None
        self.database_url = ""
        self.redis_url = ""
        self.api_key = ""
        self.env: dict[str, str] = {}
        self.csms_env: dict[str, str] = {}
        self._pool: asyncpg.Pool | None = None
        self._csms_lb: LoadBalancer | None = None
        self._gateway_lb: LoadBalancer | None = None
        self._fleet: Fleet | None = None
        self._stack = AsyncExitStack()

    # ------------------------------------------------------------------ what runs

    @property
    def pool(self) -> asyncpg.Pool:
        assert self._pool is not None, "not started"
        return self._pool

    @property
    def fleet(self) -> Fleet:
        assert self._fleet is not None, "not started"
        return self._fleet

    @property
    def api(self) -> str:
        """The partner API through the gateways' load balancer."""
        assert self._gateway_lb is not None, "not started"
        return f"http://127.0.0.1:{self._gateway_lb.port}/api/v1"

    def gateway_api(self, index: int) -> str:
        return f"http://127.0.0.1:{self.gateway_ports[index]}/api/v1"

    @property
    def redis_port(self) -> int:
        return int(urlsplit(self.redis_url).port or 0)

    def chargers_on(self, index: int) -> int:
        """How many chargers csms node `index` holds (their connections through its balancer)."""
        assert self._csms_lb is not None, "not started"
        return self._csms_lb.backends[index].active

    def all_procs(self) -> list[Proc]:
        return [*self.csms, *self.gateways, *self.recorders]

    async def replace_dead(self) -> list[str]:
        """Start again every process that exited though nobody killed it (a killed one is
        replaced at once); returns what each said last."""
        said = []
        for index, proc in enumerate(self.csms):
            if not proc.alive:
                said.append(_last_words(proc))
                await self.restart_csms(index)
        for index, proc in enumerate(self.gateways):
            if not proc.alive:
                said.append(_last_words(proc))
                await self.restart_gateway(index)
        for index, proc in enumerate(self.recorders):
            if not proc.alive:
                said.append(_last_words(proc))
                await self.restart_recorder(index)
        return said

    # ------------------------------------------------------------------ start and stop

    async def start(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        stack = self._stack
        # each undo is registered before its start, so a start cut short is undone too
        stack.push_async_callback(asyncio.to_thread, embedded.stop_postgres, self.pg_folder)
        stack.push_async_callback(asyncio.to_thread, self._stop_redis)
        self.database_url, self.redis_url = await asyncio.gather(
            asyncio.to_thread(embedded.start_postgres, self.pg_folder),
            asyncio.to_thread(self._start_redis),
        )
        await db.migrate(self.database_url)
        # no connections kept open: a restart of PostgreSQL is not ours to complain about
        self._pool = await db.create_pool(self.database_url, min_size=0, max_size=4)
        stack.push_async_callback(self._pool.close)
        settings = Settings(
            database_url=self.database_url,
            redis_url=self.redis_url,
            redis_prefix=PREFIX,
            stream_shards=self.shards,
        )
        rds = await connect(self.redis_url)
        try:
            self.api_key = await seed(
                self.pool, rds, Keys.of(settings), PREFIX, self.ids, self.protocols
            )
        finally:
            await rds.aclose()
        extra = {"EVCS_RECORDER_CLAIM_IDLE_MS": "1000"}  # as the fault tests: a quick takeover
        if self.cluster:
            extra["EVCS_REDIS_WAIT_REPLICAS"] = "1"  # a failover loses nothing acknowledged
        self.env = process_env(settings, PREFIX, **extra)
        self.csms_env = self.env
        if not self.cluster:
            self.proxy = LinkProxy("127.0.0.1", self.redis_port)
            await self.proxy.start()
            stack.push_async_callback(self.proxy.stop)
            self.csms_env = {**self.env, "EVCS_REDIS_URL": f"redis://127.0.0.1:{self.proxy.port}/0"}
        stack.push_async_callback(self._stop_procs)
        csms, gateways, recorders = await asyncio.gather(
            asyncio.gather(*(self._start_csms(i) for i in range(NODES))),
            asyncio.gather(*(self._start_gateway(i) for i in range(NODES))),
            asyncio.gather(*(self._start_recorder(i) for i in range(NODES))),
        )
        self.csms, self.csms_ports = [p for p, _ in csms], [port for _, port in csms]
        self.gateways, self.gateway_ports = [p for p, _ in gateways], [p for _, p in gateways]
        self.recorders = list(recorders)
        self._csms_lb = LoadBalancer(
            [("127.0.0.1", p) for p in self.csms_ports], check_interval=0.2
        )
        await self._csms_lb.start("127.0.0.1", 0)
        stack.push_async_callback(self._csms_lb.stop)
        self._gateway_lb = LoadBalancer(
            [("127.0.0.1", p) for p in self.gateway_ports],
            health_path="/api/v1/health/ready",
            check_interval=0.2,
        )
        await self._gateway_lb.start("127.0.0.1", 0)
        stack.push_async_callback(self._gateway_lb.stop)
        self._fleet = Fleet(
            f"ws://127.0.0.1:{self._csms_lb.port}/ocpp",
            self.ids,
            pause_s=self.pause_s,
            protocols=self.protocols,
            on_ack=self.ledger.acknowledged,
        )
        stack.push_async_callback(self._fleet.stop)
        await self._fleet.start()
        await eventually(self._acked_by_all, "every charger acknowledged", procs=self.all_procs())

    async def _acked_by_all(self) -> bool:
        return self.fleet.acked_since(float("-inf"))

    async def stop(self) -> None:
        await self._stack.aclose()

    async def _stop_procs(self) -> None:
        await asyncio.gather(*(p.stop(signal.SIGTERM, timeout=10) for p in self.all_procs()))

    # ------------------------------------------------------------------ the processes

    async def _start_csms(self, index: int, port: int | None = None) -> tuple[Proc, int]:
        name = f"csms-{index + 1}"
        env = {**self.csms_env, "EVCS_NODE_ID": f"soak-{name}"}
        return await start_listening(CSMS, name, env, self.logs, port, own_session=True)

    async def _start_gateway(self, index: int, port: int | None = None) -> tuple[Proc, int]:
        name = f"gateway-{index + 1}"
        return await start_listening(GATEWAY, name, self.env, self.logs, port, own_session=True)

    async def _start_recorder(self, index: int) -> Proc:
        return await spawn(
            f"recorder-{index + 1}", ["recorder"], self.env, self.logs, own_session=True
        )

    async def restart_csms(self, index: int) -> None:
        """Start node `index` again, on its port if it is still free."""
        proc, port = await self._start_csms(index, self.csms_ports[index])
        self.csms[index], self.csms_ports[index] = proc, port
        assert self._csms_lb is not None
        self._csms_lb.backends[index].port = port

    async def restart_gateway(self, index: int) -> None:
        proc, port = await self._start_gateway(index, self.gateway_ports[index])
        self.gateways[index], self.gateway_ports[index] = proc, port
        assert self._gateway_lb is not None
        self._gateway_lb.backends[index].port = port

    async def restart_recorder(self, index: int) -> None:
        self.recorders[index] = await self._start_recorder(index)

    # ------------------------------------------------------------------ the servers

    def _start_redis(self) -> str:
        if self.cluster:
            return embedded_cluster.start(self.redis_folder, self.shards, REPLICAS)
        return embedded.start_redis(self.redis_folder)

    def _stop_redis(self) -> None:
        if self.cluster:
            embedded_cluster.stop(self.redis_folder)
        else:
            embedded.stop_redis(self.redis_folder)

    def restart_redis(self, kill: bool) -> None:
        """Stop Redis (SIGTERM: it writes its file and exits; or SIGKILL) and start it again on
        the same port(s). Blocking."""
        if kill:
            _kill(self.redis_folder)
        self._stop_redis()
        assert self._start_redis() == self.redis_url

    def restart_postgres(self) -> None:
        """Blocking."""
        embedded.stop_postgres(self.pg_folder)
        embedded.start_postgres(self.pg_folder)

    def primaries(self) -> list[int]:
        """The ports of the cluster's primaries, as a live node sees them. Blocking."""
        layout = embedded_cluster.read_layout(self.redis_folder)
        for port in layout.ports:
            try:
                with redis.Redis(port=port, decode_responses=True, socket_timeout=2) as client:
                    nodes = client.cluster("nodes")
            except redis.RedisError:
                continue
            return sorted(
                int(address.split("@")[0].rsplit(":", 1)[1])
                for address, node in nodes.items()
                if "master" in node["flags"] and "fail" not in node["flags"]
            )
        raise RuntimeError("no node of the cluster answers")

    def kill_node(self, port: int) -> None:
        """SIGKILL the cluster node on `port`: no goodbye to its peers. Blocking."""
        _kill(self._node_folder(port))

    def _node_folder(self, port: int) -> Path:
        layout = embedded_cluster.read_layout(self.redis_folder)
        return embedded_cluster.node_folder(self.redis_folder, layout.ports.index(port))

    def served_without(self, dead: int) -> bool:
        """Whether every slot has a live primary other than `dead`, and the cluster says ok,
        as the first live node sees it. Blocking."""
        layout = embedded_cluster.read_layout(self.redis_folder)
        for port in (p for p in layout.ports if p != dead):
            try:
                with redis.Redis(port=port, decode_responses=True, socket_timeout=2) as client:
                    if client.cluster("info").get("cluster_state") != "ok":
                        return False
                    ranges = client.execute_command("CLUSTER", "SLOTS")
            except redis.RedisError:
                continue
            covered = sum(last - first + 1 for first, last, *_ in ranges)
            owners = {int(primary[1]) for _, _, primary, *_ in ranges}
            return covered == embedded_cluster.SLOTS and dead not in owners
        return False

    def rejoin(self, port: int) -> None:
        """Start the killed node on `port` again and wait until every replica is in sync.
        Blocking."""
        embedded.stop_server(self._node_folder(port))  # only collects the dead process
        embedded_cluster.start(self.redis_folder, self.shards, REPLICAS)
        deadline = time.monotonic() + 60  # start() waits for the replicas it created, not this
        while not _in_sync(port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the node on port {port} did not come back as a replica")
            time.sleep(0.05)


def _in_sync(port: int) -> bool:
    """Whether the node on `port` is a replica whose link to its primary is up."""
    try:
        with redis.Redis(port=port, decode_responses=True, socket_timeout=2) as client:
            info = client.info("replication")
    except redis.RedisError:
        return False
    return bool(info.get("role") == "slave" and info.get("master_link_status") == "up")


def _last_words(proc: Proc) -> str:
    return f"{proc.name} (exit code {proc.process.returncode}): {proc.tail(3)}"


def _kill(folder: Path) -> None:
    """SIGKILL the server whose pid file is in `folder`."""
    pid = int((folder / "redis.pid").read_text())
    os.kill(pid, signal.SIGKILL)
