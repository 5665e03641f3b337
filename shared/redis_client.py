"""The one way to open Redis: a single server or a Redis Cluster, told apart by asking it.

Both clients answer the same calls, so other code never asks which it has. Besides the
usual commands they offer what a cluster needs and a single server does trivially:
`node_client(key)` (a plain client on the primary that holds the key, for pipelines and
sharded pub/sub on the hot path), `primary_clients()`, `refresh_topology()` after a MOVED or
a lost node, and `post()` to publish on a channel (SPUBLISH in a cluster, so a message reaches
only the shard that holds the channel instead of every node).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit

import hiredis
import redis.asyncio as redis
from redis.asyncio.cluster import ClusterNode, ClusterPipeline, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.commands.core import AsyncScript
from redis.crc import key_slot
from redis.exceptions import (
    ClusterDownError,
    MaxConnectionsError,
    NoScriptError,
    RedisClusterException,
    TryAgainError,
)

Mode = Literal["auto", "standalone", "cluster"]

# Errors that mean "Redis cannot serve this right now; it may later": a lost or restarting
# server, a cluster failing over, a slot with no owner. Callers answer InternalError or 503.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    redis.ConnectionError,
    redis.TimeoutError,
    ClusterDownError,
    TryAgainError,
    MaxConnectionsError,
    RedisClusterException,  # SlotNotCoveredError and a cluster with no reachable node
    OSError,
)

# What every connection gets: keepalive finds dead peers on a real network, a health check
# finds idle connections that died, and a socket timeout well above any blocking read we
# issue (a blocking read that outlasts it ends in a timeout error, not an empty reply).
SOCKET_TIMEOUT = 10.0
_CONNECTION = {
    "socket_keepalive": True,
    "health_check_interval": 30,
    "socket_timeout": SOCKET_TIMEOUT,
}
# Blocking reads (XREAD/XREADGROUP BLOCK) stay well under the socket timeout.
BLOCK_MS = 2000


class _PackedByHiredis:
    """Commands packed into RESP by hiredis (C) instead of redis-py's Python loop: 3 to 6
    times faster, and every message of a charger costs two to three commands."""

    def pack_command(self, *args: Any) -> list[bytes]:
        if isinstance(args[0], str) and " " in args[0]:  # "CONFIG GET": separate words
            args = (*args[0].split(), *args[1:])
        return [hiredis.pack_command(args)]


class FastConnection(_PackedByHiredis, redis.Connection):  # type: ignore[misc]
    pass


class FastSSLConnection(_PackedByHiredis, redis.SSLConnection):  # type: ignore[misc]
    pass


class FastUnixConnection(_PackedByHiredis, redis.UnixDomainSocketConnection):  # type: ignore[misc]
    pass


_FAST = {"redis": FastConnection, "rediss": FastSSLConnection, "unix": FastUnixConnection}


class RedisUnavailable(RuntimeError):
    """Redis cannot be used as configured; the message is one line for the operator."""


@dataclass(frozen=True, slots=True)
class Target:
    """What a URL names: one or more host:port (any node of a cluster will do) and a login."""

    hosts: list[tuple[str, int]]
    db: int
    username: str | None
    password: str | None
    ssl: bool
    tls: dict[str, Any] = field(default_factory=dict)  # the URL's ssl_* options (rediss://)


# What a rediss:// URL may say of its TLS (e.g. ?ssl_ca_certs=/etc/evcs/redis-ca.pem): every
# connection is made with them, the start-up probe and a cluster's nodes' too.
TLS_OPTIONS = (
    "ssl_ca_certs",
    "ssl_ca_path",
    "ssl_certfile",
    "ssl_keyfile",
    "ssl_cert_reqs",
    "ssl_check_hostname",
)


def parse_url(url: str) -> Target:
    """redis[s]://[user:password@]host:port[,host:port...][/db][?ssl_ca_certs=...]; several
    hosts only help a cluster client find a node that answers."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise RedisUnavailable(f"EVCS_REDIS_URL must start with redis:// or rediss://: {url!r}")
    login, _, hostlist = parts.netloc.rpartition("@")
    user, _, password = login.partition(":")
    hosts: list[tuple[str, int]] = []
    for item in hostlist.split(","):
        host, _, port = item.strip().rpartition(":") if ":" in item else (item.strip(), "", "")
        if not host or (port and not port.isdigit()):
            raise RedisUnavailable(f"EVCS_REDIS_URL has a malformed host {item!r}")
        hosts.append((host.strip("[]"), int(port) if port else 6379))
    path = parts.path.strip("/")
    if path and not path.isdigit():
        raise RedisUnavailable(f"EVCS_REDIS_URL names database {path!r}; expected a number")
    ssl = parts.scheme == "rediss"
    query = parse_qs(parts.query)
    tls: dict[str, Any] = {k: query[k][-1] for k in TLS_OPTIONS if ssl and k in query}
    if "ssl_check_hostname" in tls:
        tls["ssl_check_hostname"] = tls["ssl_check_hostname"].lower() in ("1", "true", "yes")
    return Target(
        hosts=hosts,
        db=int(path or 0),
        username=unquote(user) or None,
        password=unquote(password) if password else None,
        ssl=ssl,
        tls=tls,
    )


def _login(target: Target) -> dict[str, Any]:
    """What a connection needs besides its address: the login, and over TLS the URL's own
    TLS options."""
    return {"username": target.username, "password": target.password, **target.tls}


class StandaloneRedis(redis.Redis):  # type: ignore[misc]
    """One server: every key lives on it."""

    sharded = False

    def node_client(self, key: str | bytes) -> StandaloneRedis:
        return self

    def client_at(self, host: str, port: int) -> StandaloneRedis:
        return self

    def primary_clients(self) -> list[StandaloneRedis]:
        return [self]

    async def refresh_topology(self) -> None:
        return None

    async def post(self, channel: str, message: str | bytes) -> int:
        """Publish; the number of subscribers that got it."""
        return int(await self.publish(channel, message))

    async def once(self, key: str, *args: Any) -> Any:
        """A command sent once (this client never retries one)."""
        return await self.execute_command(*args)


class ClusterRedis(RedisCluster):  # type: ignore[misc]
    """A Redis Cluster. Commands wait for a free connection instead of failing when many run
    at once (a reconnection storm), the way the single server's blocking pool does."""

    sharded = True

    def __init__(self, *args: Any, max_connections: int, **kwargs: Any) -> None:
        super().__init__(*args, max_connections=max_connections, **kwargs)
        self._gate = asyncio.Semaphore(max_connections)
        self._node_pool_size = max_connections
        self._node_clients: dict[str, StandaloneRedis] = {}
        self._login = {k: kwargs.get(k) for k in ("username", "password")}
        self._login |= {k: kwargs[k] for k in TLS_OPTIONS if k in kwargs}
        self._login["connection_class"] = FastSSLConnection if kwargs.get("ssl") else FastConnection
        self._refreshed = 0.0
        self._refreshing: asyncio.Lock | None = None

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        async with self._gate:
            try:
                return await super().execute_command(*args, **kwargs)
            except (AttributeError, RuntimeError) as exc:
                # redis-py closes every connection itself on CLUSTERDOWN; a command that was
                # opening or writing one of them meanwhile trips over its closed writer
                # ("'NoneType' has no attribute 'writelines'"; uvloop: "unable to perform
                # operation on <TCPTransport closed=True>"). For the caller: node unavailable.
                if isinstance(exc, RuntimeError) and "closed" not in str(exc):
                    raise
                raise redis.ConnectionError(f"connection closed under the command: {exc}") from exc

    def pipeline(self, transaction: bool | None = None, shard_hint: Any = None) -> Any:
        return _GatedPipeline(self, transaction)

    def node_client(self, key: str | bytes) -> StandaloneRedis:
        """A plain client on the primary that serves the key's slot, as far as we know."""
        node = self.nodes_manager.get_node_from_slot(
            key_slot(key.encode() if isinstance(key, str) else key)
        )
        return self._client_of(node)

    def client_at(self, host: str, port: int) -> StandaloneRedis:
        """A plain client on the node at host:port (an ASK redirect's target)."""
        return self._client_of(ClusterNode(host, port))

    def primary_clients(self) -> list[StandaloneRedis]:
        return [self._client_of(node) for node in self.get_primaries()]

    def _client_of(self, node: ClusterNode) -> StandaloneRedis:
        client = self._node_clients.get(node.name)
        if client is None:
            pool = redis.BlockingConnectionPool(
                host=node.host,
                port=node.port,
                decode_responses=True,
                max_connections=self._node_pool_size,
                timeout=10,
                **_CONNECTION,
                **self._login,
            )
            client = StandaloneRedis.from_pool(pool)
            self._node_clients[node.name] = client
        return client

    async def refresh_topology(self) -> None:
        """Read the slot map again (after MOVED, or a node that stopped answering); calls
        within 100 ms of the last refresh share it."""
        if self._refreshing is None:
            self._refreshing = asyncio.Lock()
        requested = time.monotonic()
        async with self._refreshing:
            if self._refreshed >= requested - 0.1:
                return
            await self.nodes_manager.initialize()
            self._refreshed = time.monotonic()
        names = {node.name for node in self.get_nodes()}
        gone = [self._node_clients.pop(n) for n in list(self._node_clients) if n not in names]
        for client in gone:
            await client.aclose()

    async def post(self, channel: str, message: str | bytes) -> int:
        return int(await self.spublish(channel, message))

    async def once(self, key: str, *args: Any) -> Any:
        """A command on the key's primary, following MOVED and ASK, but not sent again after a
        lost connection, as the cluster client otherwise does: it may have run there (a
        publish, a script)."""
        node = self.nodes_manager.get_node_from_slot(key_slot(key.encode()))
        return await self.execute_command(*args, target_nodes=node)

    async def aclose(self) -> None:
        # redis-py calls this itself on CLUSTERDOWN, while other tasks use and add node
        # clients: let go of the current ones first, then close them.
        clients, self._node_clients = list(self._node_clients.values()), {}
        for client in clients:
            await client.aclose()
        await super().aclose()


class _GatedPipeline(ClusterPipeline):  # type: ignore[misc]
    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        async with self.cluster_client._gate:
            return await super().execute(*args, **kwargs)


async def _cluster_enabled(target: Target) -> bool:
    """Ask the first host that answers whether it runs in cluster mode."""
    last: BaseException | None = None
    for host, port in target.hosts:
        probe = redis.Redis(
            host=host,
            port=port,
            socket_connect_timeout=5,
            socket_timeout=5,
            ssl=target.ssl,
            **_login(target),
        )
        try:
            info = await probe.info("cluster")
            return bool(int(info.get("cluster_enabled", 0)))
        except UNAVAILABLE as exc:
            last = exc
        except redis.AuthenticationError as exc:
            raise RedisUnavailable(f"Redis at {host}:{port} refused the login: {exc}") from None
        finally:
            await probe.aclose()
    where = ", ".join(f"{h}:{p}" for h, p in target.hosts)
    raise RedisUnavailable(f"no Redis answers at {where}: {last}")


async def connect(url: str, *, max_connections: int = 64, mode: Mode = "auto") -> Any:
    """Open a client for the server(s) the URL names (a StandaloneRedis or a ClusterRedis).

    A cluster whose slots are not all served is refused here, with one clear message."""
    if url.startswith("unix://"):
        return _standalone(url, max_connections)
    target = parse_url(url)
    clustered = mode == "cluster" or (mode == "auto" and await _cluster_enabled(target))
    if not clustered:
        if len(target.hosts) > 1:
            raise RedisUnavailable("EVCS_REDIS_URL names several hosts but Redis is no cluster")
        return _standalone(url, max_connections)
    if target.db:
        raise RedisUnavailable("a Redis Cluster has only database 0; drop the /N from the URL")
    client = ClusterRedis(
        startup_nodes=[ClusterNode(host, port) for host, port in target.hosts],
        decode_responses=True,
        max_connections=max_connections,
        require_full_coverage=True,
        # A command is tried again after a lost node or a moved slot, but a cluster that is
        # down answers within a second (503, InternalError) instead of stalling callers.
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), retries=3),
        ssl=target.ssl,
        **_CONNECTION,
        **_login(target),
    )
    try:
        await client.initialize()
    except RedisClusterException as exc:
        await client.aclose()
        raise RedisUnavailable(f"the Redis Cluster cannot serve every slot: {exc}") from None
    except UNAVAILABLE as exc:
        await client.aclose()
        raise RedisUnavailable(f"the Redis Cluster does not answer: {exc}") from None
    return client


def _standalone(url: str, max_connections: int) -> StandaloneRedis:
    scheme = url.partition(":")[0]
    options = dict(_CONNECTION)
    if scheme == "unix":
        del options["socket_keepalive"]  # a TCP option: a unix socket's connection refuses it
    pool = redis.BlockingConnectionPool.from_url(
        url,
        connection_class=_FAST[scheme],
        decode_responses=True,
        max_connections=max_connections,
        timeout=10,  # a reconnection storm queues for Redis rather than failing
        **options,
    )
    # from_url puts back its own class for unix:// and rediss://, dropping hiredis's packing
    pool.connection_class = _FAST[scheme]
    client: StandaloneRedis = StandaloneRedis.from_pool(pool)  # aclose() closes the pool too
    return client


def connect_sync(url: str, mode: Mode = "auto") -> Any:
    """A blocking client (redis.Redis or redis.RedisCluster) for scripts and benchmarks."""
    import redis as sync_redis
    from redis.cluster import ClusterNode as SyncNode

    if url.startswith("unix://"):
        return sync_redis.Redis.from_url(url, decode_responses=True)
    target = parse_url(url)
    clustered = mode == "cluster"
    if mode == "auto":
        host, port = target.hosts[0]
        with sync_redis.Redis(host=host, port=port, ssl=target.ssl, **_login(target)) as probe:
            clustered = bool(int(probe.info("cluster").get("cluster_enabled", 0)))
    if not clustered:
        return sync_redis.Redis.from_url(url, decode_responses=True)
    return sync_redis.RedisCluster(
        startup_nodes=[SyncNode(h, p) for h, p in target.hosts],
        decode_responses=True,
        ssl=target.ssl,
        **_login(target),
    )


async def script_once(r: Any, script: AsyncScript, keys: list[str], args: list[Any]) -> Any:
    """A registered script run by its hash, sent once: a cluster client's own call would send
    it again after a lost reply, though it may have run. EVAL where the server lacks it."""
    try:
        return await r.once(keys[0], "EVALSHA", script.sha, len(keys), *keys, *args)
    except NoScriptError:
        return await r.once(keys[0], "EVAL", script.script, len(keys), *keys, *args)


async def delete_matching(r: Any, pattern: str) -> int:
    """Delete every key that matches `pattern` on every primary (a test's or benchmark's
    prefix); returns how many. One key per command: keys of several slots cannot share one."""
    deleted = 0
    for client in r.primary_clients():
        batch: list[str] = []
        async for key in client.scan_iter(match=pattern, count=10_000):
            batch.append(key)
            if len(batch) >= 10_000:
                deleted += await _unlink(client, batch)
                batch = []
        deleted += await _unlink(client, batch)
    return deleted


async def _unlink(client: Any, keys: list[str]) -> int:
    if not keys:
        return 0
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.unlink(key)
    return sum(await pipe.execute())
