"""Faults of an embedded Redis Cluster, done the way an operator would: kill a primary, move
slots between primaries with the MIGRATING/IMPORTING protocol (what `redis-cli --cluster
reshard` does). Blocking calls: run them with asyncio.to_thread."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis
from redis.crc import key_slot

from shared import embedded_cluster
from shared.embedded_cluster import Layout


@contextmanager
def node(port: int) -> Iterator[redis.Redis]:
    client = redis.Redis(port=port, decode_responses=True, socket_timeout=5)
    try:
        yield client
    finally:
        client.close()


def node_id(port: int) -> str:
    with node(port) as client:
        return str(client.execute_command("CLUSTER", "MYID"))


def owner_port(layout: Layout, key: str, dead: set[int] | None = None) -> int:
    """The port of the primary serving the key's slot, as a live node sees it."""
    slot = key_slot(key.encode())
    for port in layout.ports:
        if dead and port in dead:
            continue
        with node(port) as client:
            for first, last, primary, *_ in client.execute_command("CLUSTER", "SLOTS"):
                if first <= slot <= last:
                    return int(primary[1])
    raise LookupError(f"no live node knows who serves slot {slot}")


def kill(folder: Path, layout: Layout, port: int) -> None:
    """SIGKILL the node on `port`: no goodbye to its peers, its replica has to notice."""
    index = layout.ports.index(port)
    pid = int((embedded_cluster.node_folder(folder, index) / "redis.pid").read_text())
    os.kill(pid, signal.SIGKILL)


def wait_for_new_owner(layout: Layout, key: str, old: int, timeout: float = 30) -> int:
    """Wait until a live node says another primary serves the key's slot and the cluster is
    ok again; returns the new owner's port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            port = owner_port(layout, key, dead={old})
            with node(port) as client:
                if port != old and client.cluster("info").get("cluster_state") == "ok":
                    return port
        except (redis.RedisError, LookupError):
            pass
        time.sleep(0.05)
    raise AssertionError(f"no replica took over from {old} within {timeout:.0f}s")


def move_slot(layout: Layout, slot: int, source: int, target: int) -> int:
    """Move one slot and its keys from the primary on `source` to the one on `target`, the
    way redis-cli reshards; returns how many keys moved. Clients see ASK while it runs and
    MOVED after."""
    source_id, target_id = node_id(source), node_id(target)
    moved = 0
    with node(source) as src, node(target) as dst:
        dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
        src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
        while keys := src.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100):
            src.execute_command("MIGRATE", "127.0.0.1", target, "", 0, 5000, "KEYS", *keys)
            moved += len(keys)
        dst.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)
        src.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)
    for port in layout.ports:  # the rest learn it from the bus too; this is just quicker
        if port not in (source, target):
            try:
                with node(port) as other:
                    other.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)
            except redis.RedisError:
                pass  # a replica refuses SETSLOT; it follows its primary
    return moved


@dataclass
class OwnCluster:
    """An embedded cluster a test may break: its folder, URL and layout."""

    folder: Path
    url: str
    layout: Layout


@contextmanager
def own_cluster(primaries: int, replicas: int) -> Iterator[OwnCluster]:
    folder = Path(tempfile.mkdtemp(prefix="evcs-own-cluster-"))
    try:
        url = embedded_cluster.start(folder, primaries, replicas)
        yield OwnCluster(folder, url, embedded_cluster.read_layout(folder))
    finally:
        embedded_cluster.stop(folder)
        shutil.rmtree(folder, ignore_errors=True)
