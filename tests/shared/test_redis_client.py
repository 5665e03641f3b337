"""Opening Redis: one server or a cluster from one URL, and one clear error when neither works."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis.asyncio as redis
from redis.crc import key_slot

from shared import embedded
from shared.embedded_cluster import SLOTS
from shared.ports import free_port
from shared.pubsub import Subscription
from shared.redis_client import (
    UNAVAILABLE,
    FastUnixConnection,
    RedisUnavailable,
    connect,
    connect_sync,
    parse_url,
)
from shared.redis_keys import Keys, shard_tag
from shared.redis_lane import Lane, hot_path
from shared.settings import Settings


def test_a_url_may_name_several_hosts_and_a_login() -> None:
    target = parse_url("rediss://user:p%40ss@h1:7000,h2:7001/0")
    assert target.hosts == [("h1", 7000), ("h2", 7001)]
    assert (target.username, target.password, target.ssl, target.db) == ("user", "p@ss", True, 0)
    assert parse_url("redis://localhost").hosts == [("localhost", 6379)]


@pytest.mark.parametrize(
    "url", ["http://h:1/0", "redis://h:port/0", "redis://h:1/zero", "redis://:1/0"]
)
def test_a_malformed_url_is_refused_with_a_reason(url: str) -> None:
    with pytest.raises(RedisUnavailable):
        parse_url(url)


def test_a_tls_url_carries_its_own_tls_options() -> None:
    target = parse_url("rediss://h:1/0?ssl_ca_certs=/etc/evcs/ca.pem&ssl_check_hostname=false")
    assert target.tls == {"ssl_ca_certs": "/etc/evcs/ca.pem", "ssl_check_hostname": False}
    assert parse_url("redis://h:1/0?ssl_ca_certs=/etc/evcs/ca.pem").tls == {}  # no TLS there


async def test_the_start_up_probe_uses_the_urls_tls_options(settings: Settings) -> None:
    """A private CA named in the URL is the one the first connection verifies with: here one
    that does not exist, which fails before any TLS is spoken."""
    address = urlsplit(str(settings.redis_url)).netloc.rpartition("@")[2]
    with pytest.raises(RedisUnavailable, match="No such file or directory"):
        await connect(f"rediss://{address}/0?ssl_ca_certs=/nonexistent/evcs-ca.pem")


async def test_nothing_listening_is_one_clear_error() -> None:
    with pytest.raises(RedisUnavailable, match=r"no Redis answers at 127\.0\.0\.1:1:"):
        await connect("redis://127.0.0.1:1/0")


@pytest.fixture
def slotless_node() -> Iterator[str]:
    """A cluster-enabled server that serves no slot: a cluster not (yet) set up."""
    folder = Path(tempfile.mkdtemp(prefix="evcs-slotless-"))
    port = free_port()
    embedded.spawn_server(
        folder,
        port,
        "everysec",
        "--cluster-enabled",
        "yes",
        "--cluster-port",
        str(free_port()),
    )
    embedded.wait_for_server(folder, port)
    yield f"redis://127.0.0.1:{port}/0"
    embedded.stop_server(folder)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def unix_socket_url() -> Iterator[str]:
    """A server on this machine reached through a unix socket, its database 2 named."""
    folder = Path(tempfile.mkdtemp(prefix="evcs-unix-"))
    port = free_port()
    socket_path = folder / "redis.sock"
    embedded.spawn_server(
        folder, port, "everysec", "--unixsocket", str(socket_path), "--unixsocketperm", "700"
    )
    embedded.wait_for_server(folder, port)
    yield f"unix://{socket_path}?db=2"
    embedded.stop_server(folder)
    shutil.rmtree(folder, ignore_errors=True)


async def test_a_server_on_a_unix_socket_serves_every_path(unix_socket_url: str, uid: str) -> None:
    """redis-py's pool, the hot path's lane and a subscription all reach it, in its database."""
    client = await connect(unix_socket_url)
    assert client.connection_pool.connection_class is FastUnixConnection  # packed by hiredis
    lane = hot_path(client)
    assert isinstance(lane, Lane)
    got: list[str | bytes] = []
    arrived = asyncio.Event()

    def on_message(data: str | bytes) -> None:
        got.append(data)
        arrived.set()

    subscription = Subscription(client, f"t:{uid}", on_message)
    try:
        await client.set(f"{uid}:k", "v")
        assert (await client.client_info())["db"] == 2
        assert await lane.run([(f"{uid}:k", ("GET", f"{uid}:k"))]) == ["v"]  # database 2 too
        await subscription.start()
        assert await lane.execute([("PUBLISH", f"t:{uid}", "here")]) == [1]
        await asyncio.wait_for(arrived.wait(), 10)
        assert got == ["here"]
        with connect_sync(unix_socket_url) as blocking:  # scripts' and benchmarks' client
            assert blocking.get(f"{uid}:k") == "v"
    finally:
        await subscription.stop()
        await lane.aclose()
        await client.aclose()


async def test_a_cluster_that_does_not_serve_every_slot_is_refused_at_start(
    slotless_node: str,
) -> None:
    with pytest.raises(RedisUnavailable, match="cannot serve every slot"):
        await connect(slotless_node)


def test_evcs_says_what_is_wrong_in_one_line_not_a_traceback(slotless_node: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVCS_")}
    env.update(
        EVCS_REDIS_URL=slotless_node,
        EVCS_DATABASE_URL="postgresql://nobody@127.0.0.1:1/none",
        EVCS_CSMS_PORT="0",
    )
    result = subprocess.run(
        [sys.executable, "-m", "evcs", "csms"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: the Redis Cluster cannot serve every slot")
    assert "Traceback" not in result.stderr


def test_stream_shards_take_even_shares_of_the_slot_space() -> None:
    for shards in (1, 2, 3, 5, 8, 16):
        for i in range(shards):
            slot = key_slot(shard_tag(i, shards).encode())
            assert SLOTS * i // shards <= slot < SLOTS * (i + 1) // shards
    assert Keys("evcs", 1).stream(0) == "evcs:events:{0}"  # unchanged for one shard


async def test_on_a_cluster_each_stream_shard_lives_on_a_primary_of_its_own(
    cluster_settings: Settings, cluster_rds: redis.Redis
) -> None:
    keys = Keys.of(cluster_settings)
    owners = {cluster_rds.get_node_from_key(stream).name for stream in keys.streams()}
    assert len(owners) == len(keys.streams()) == len(cluster_rds.get_primaries())


async def test_closing_a_cluster_client_while_tasks_take_node_clients_is_safe(
    cluster_url: str,
) -> None:
    # redis-py closes the cluster client itself when a node answers CLUSTERDOWN, while other
    # requests go on taking node clients: that must not fail them with a RuntimeError.
    client = await connect(cluster_url)
    keys = [f"k{i}" for i in range(64)]
    await client.node_client(keys[0]).ping()  # an open connection, which closing waits for

    async def take_more() -> None:
        for key in keys:
            await asyncio.sleep(0)
            client.node_client(f"{key}:again")

    await asyncio.gather(client.aclose(), take_more())
    await client.aclose()  # the ones taken meanwhile are closed too


@pytest.mark.parametrize(
    "closed",
    [
        AttributeError("'NoneType' object has no attribute 'writelines'"),
        RuntimeError("unable to perform operation on <TCPTransport closed=True>; the handler"),
    ],
    ids=["asyncio", "uvloop"],
)
async def test_a_connection_closed_under_a_cluster_command_is_unavailable_not_a_crash(
    cluster_url: str, monkeypatch: pytest.MonkeyPatch, closed: Exception
) -> None:
    # what redis-py raises when its own CLUSTERDOWN handling closed the connection a command
    # was opening: callers know to answer 503 or InternalError for UNAVAILABLE, not for this
    from redis.asyncio.cluster import RedisCluster

    async def closed_writer(self: object, *args: object, **kwargs: object) -> object:
        raise closed

    client = await connect(cluster_url)
    try:
        monkeypatch.setattr(RedisCluster, "execute_command", closed_writer)
        with pytest.raises(UNAVAILABLE):
            await client.get("k")
    finally:
        monkeypatch.undo()
        await client.aclose()


async def test_once_never_sends_a_cluster_command_again_after_its_reply_was_lost(
    cluster_url: str, monkeypatch: pytest.MonkeyPatch, uid: str
) -> None:
    """The cluster client sends a command again after a lost connection, though it may have
    run: a publish delivered twice, a script run twice. `once` does not."""
    from redis.asyncio.cluster import ClusterNode

    real = ClusterNode.execute_command

    async def reply_lost(self: ClusterNode, *args: Any, **kwargs: Any) -> Any:
        result = await real(self, *args, **kwargs)
        if args[0] == "INCR":
            raise redis.ConnectionError("Connection closed by server.")
        return result

    client = await connect(cluster_url)
    retried, sent_once = f"retried-{uid}", f"once-{uid}"
    try:
        monkeypatch.setattr(ClusterNode, "execute_command", reply_lost)
        with pytest.raises(redis.ConnectionError):
            await client.execute_command("INCR", retried)
        with pytest.raises(redis.ConnectionError):
            await client.once(sent_once, "INCR", sent_once)
        monkeypatch.undo()
        assert int(await client.get(retried)) > 1  # what `once` is for
        assert await client.get(sent_once) == "1"
    finally:
        monkeypatch.undo()
        await client.aclose()
