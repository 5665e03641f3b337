"""An embedded Redis Cluster: N primaries, each with R replicas, of the packaged server binary.

Created once under a folder (one sub-folder per node, with its append-only file and cluster
config), then started again on the same ports, so the cluster keeps its data and its shape.
Slots are split evenly over the primaries, the way `redis-cli --cluster create` splits them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import redis

from shared import embedded
from shared.ports import free_port, port_free

SLOTS = 16384
LAYOUT = "cluster.json"


@dataclass(frozen=True, slots=True)
class Layout:
    primaries: int
    replicas: int  # per primary
    ports: list[int]  # primaries first, then the replicas of primary 0, 1, ...
    bus_ports: list[int]
    node_timeout_ms: int

    def replica_of(self, index: int) -> int | None:
        """The primary a node replicates (None for a primary)."""
        return None if index < self.primaries else (index - self.primaries) % self.primaries


def is_cluster(folder: Path) -> bool:
    return (folder / LAYOUT).exists()


def read_layout(folder: Path) -> Layout:
    return Layout(**json.loads((folder / LAYOUT).read_text()))


def node_folder(folder: Path, index: int) -> Path:
    return folder / f"node-{index}"


def slot_ranges(primaries: int) -> list[tuple[int, int]]:
    """Contiguous, even slot ranges, one per primary (inclusive bounds)."""
    bounds = [SLOTS * i // primaries for i in range(primaries + 1)]
    return [(bounds[i], bounds[i + 1] - 1) for i in range(primaries)]


def url(layout: Layout) -> str:
    """One URL naming every primary: a client starts from whichever answers."""
    hosts = ",".join(f"127.0.0.1:{p}" for p in layout.ports[: layout.primaries])
    return f"redis://{hosts}/0"


def start(
    folder: Path,
    primaries: int,
    replicas: int = 1,
    appendfsync: str = "everysec",
    node_timeout_ms: int = 2000,
) -> str:
    """Start (or create, the first time) the cluster under `folder`; return its URL once every
    slot is served."""
    if is_cluster(folder):
        layout = read_layout(folder)
        if (layout.primaries, layout.replicas) != (primaries, replicas):
            raise RuntimeError(
                f"{folder} holds a cluster of {layout.primaries} primaries with "
                f"{layout.replicas} replica(s) each; remove that folder to change its shape"
            )
        _start_nodes(folder, layout, appendfsync)
    else:
        layout = _create(folder, primaries, replicas, appendfsync, node_timeout_ms)
    _wait_healthy(layout)
    return url(layout)


def running(folder: Path) -> bool:
    """Whether every node of the cluster under `folder` answers."""
    layout = read_layout(folder)
    return all(embedded.redis_state(port) == "up" for port in layout.ports)


def stop(folder: Path, timeout: float = 10.0) -> None:
    if not is_cluster(folder):
        return
    layout = read_layout(folder)
    for index in range(len(layout.ports)):
        embedded.stop_server(node_folder(folder, index), timeout)


def _server_args(layout: Layout, index: int) -> list[str]:
    return [
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        "nodes.conf",
        "--cluster-port",
        str(layout.bus_ports[index]),
        "--cluster-node-timeout",
        str(layout.node_timeout_ms),
        # a replica that lost its primary long ago still takes over: there is nothing better
        "--cluster-replica-validity-factor",
        "0",
        # a replica syncs at once instead of waiting 5 s for others to share the transfer
        "--repl-diskless-sync-delay",
        "0",
    ]


def _start_nodes(folder: Path, layout: Layout, appendfsync: str) -> None:
    for index, port in enumerate(layout.ports):
        where = node_folder(folder, index)
        state = embedded.redis_state(port)
        if state == "down":
            if not port_free("127.0.0.1", port) or not port_free(
                "127.0.0.1", layout.bus_ports[index]
            ):
                raise RuntimeError(
                    f"port {port} or {layout.bus_ports[index]} of embedded cluster node {index} "
                    f"is taken by another program; free it, or remove {folder}"
                )
            embedded.spawn_server(where, port, appendfsync, *_server_args(layout, index))
    for index, port in enumerate(layout.ports):
        embedded.wait_for_server(node_folder(folder, index), port)


def _create(
    folder: Path, primaries: int, replicas: int, appendfsync: str, node_timeout_ms: int
) -> Layout:
    count = primaries * (1 + replicas)
    ports: list[int] = []
    while len(ports) < 2 * count:  # distinct free ports for clients and the cluster bus
        port = free_port()
        if port not in ports:
            ports.append(port)
    layout = Layout(primaries, replicas, ports[:count], ports[count:], node_timeout_ms)
    _start_nodes(folder, layout, appendfsync)
    clients = [redis.Redis(port=p, decode_responses=True) for p in layout.ports]
    try:
        ids = [c.execute_command("CLUSTER", "MYID") for c in clients]
        for index, client in enumerate(clients):
            client.execute_command("CLUSTER", "SET-CONFIG-EPOCH", index + 1)
        for client, (first, last) in zip(clients, slot_ranges(primaries), strict=False):
            client.execute_command("CLUSTER", "ADDSLOTSRANGE", first, last)
        for port, bus in zip(layout.ports[1:], layout.bus_ports[1:], strict=True):
            clients[0].execute_command("CLUSTER", "MEET", "127.0.0.1", port, bus)
        _until(lambda: all(_known(c) == count for c in clients), "the nodes to meet")
        for index, client in enumerate(clients):
            primary = layout.replica_of(index)
            if primary is not None:
                client.execute_command("CLUSTER", "REPLICATE", ids[primary])
    finally:
        for client in clients:
            client.close()
    (folder / LAYOUT).write_text(json.dumps(asdict(layout)))
    return layout


def _known(client: redis.Redis) -> int:
    """How many nodes this one knows and is connected to (itself included)."""
    nodes = client.cluster("nodes")  # {"host:port@bus": {"connected": bool, ...}}
    return sum(1 for node in nodes.values() if node.get("connected"))


def _wait_healthy(layout: Layout, timeout: float = 60) -> None:
    """Every node says the cluster is ok and every replica has synced with its primary."""
    clients = [redis.Redis(port=p, decode_responses=True) for p in layout.ports]
    try:

        def healthy() -> bool:
            for index, client in enumerate(clients):
                if client.cluster("info").get("cluster_state") != "ok":
                    return False
                if layout.replica_of(index) is not None:
                    role = client.info("replication")
                    if role.get("role") == "slave" and role.get("master_link_status") != "up":
                        return False
            return True

        _until(healthy, "the embedded cluster to serve every slot", timeout)
    finally:
        for client in clients:
            client.close()


def _until(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except redis.RedisError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)
