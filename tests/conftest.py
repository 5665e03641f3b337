"""Real PostgreSQL and Redis for every test session.

With EVCS_DATABASE_URL and EVCS_REDIS_URL set, tests use those servers (in a fresh database
and under a fresh Redis key prefix); otherwise they start the embedded servers in a temp folder.
Tests that run on a Redis Cluster as well take the `topology` fixture: the cluster is an
embedded one of 3 primaries with a replica each, started on first use (or the cluster that
EVCS_TEST_CLUSTER_URL names).
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import redis.asyncio as redis

from shared import db, embedded, embedded_cluster
from shared.redis_client import connect, delete_matching
from shared.redis_keys import Keys
from shared.settings import Settings


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def server_urls() -> Iterator[tuple[str, str]]:
    database_url = os.environ.get("EVCS_DATABASE_URL")
    redis_url = os.environ.get("EVCS_REDIS_URL")
    folder: Path | None = None
    if not (database_url and redis_url):
        folder = Path(tempfile.mkdtemp(prefix="evcs-test-"))
        servers = embedded.start(folder)
        database_url = database_url or servers.database_url
        redis_url = redis_url or servers.redis_url
    try:
        yield database_url, redis_url
    finally:
        if folder is not None:
            embedded.stop(folder)
            shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
async def settings(server_urls: tuple[str, str]) -> AsyncIterator[Settings]:
    """Settings for this session: a fresh, migrated database and a fresh Redis prefix."""
    admin_url, redis_url = server_urls
    name = f"evcs_test_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    database_url = _with_database(admin_url, name)
    await db.migrate(database_url)
    yield Settings(
        database_url=database_url,
        redis_url=redis_url,
        redis_prefix=f"t{secrets.token_hex(4)}",
        data_dir=Path(tempfile.gettempdir()) / name,
        node_id="test-node",
        charger_auth=False,
        boot_unknown="Accepted",
        # tests of the token store ask for Invalid themselves
        authorize_unknown="Accepted",
        command_timeout=5.0,
        # every test talks from 127.0.0.1: tests of the throttle give it addresses of its own
        auth_failures_per_minute=1_000_000,
        # tests of local lists send them themselves, or sweep when they choose
        local_list_sync_seconds=0,
        log_level="WARNING",
    )
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def keys(settings: Settings) -> Keys:
    return Keys.of(settings)


@pytest.fixture(scope="session")
async def pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    assert settings.database_url
    p = await db.create_pool(settings.database_url)
    yield p
    await p.close()


@pytest.fixture(scope="session")
async def rds(settings: Settings) -> AsyncIterator[redis.Redis]:
    assert settings.redis_url
    r = await connect(settings.redis_url)
    yield r
    await delete_matching(r, f"{settings.redis_prefix}:*")
    await r.aclose()


CLUSTER_SHARDS = 3


@pytest.fixture(scope="session")
def cluster_url() -> Iterator[str]:
    configured = os.environ.get("EVCS_TEST_CLUSTER_URL")
    if configured:
        yield configured
        return
    folder = Path(tempfile.mkdtemp(prefix="evcs-cluster-"))
    try:
        yield embedded_cluster.start(folder, CLUSTER_SHARDS, replicas=1)
    finally:
        embedded_cluster.stop(folder)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
async def cluster_settings(settings: Settings, cluster_url: str) -> Settings:
    """The session's settings on the cluster: a prefix of its own, a stream shard per primary."""
    return settings.model_copy(
        update={
            "redis_url": cluster_url,
            "redis_prefix": f"c{secrets.token_hex(4)}",
            "stream_shards": CLUSTER_SHARDS,
        }
    )


@pytest.fixture(scope="session")
async def cluster_rds(cluster_settings: Settings) -> AsyncIterator[redis.Redis]:
    assert cluster_settings.redis_url
    r = await connect(cluster_settings.redis_url)
    yield r
    await delete_matching(r, f"{cluster_settings.redis_prefix}:*")
    await r.aclose()


@pytest.fixture(params=["standalone", "cluster"])
def topology(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def backend(topology: str, request: pytest.FixtureRequest) -> tuple[Settings, redis.Redis]:
    """The settings and Redis client of the test's topology (one server, or the cluster).
    (Sync: an async fixture cannot ask for other fixtures by name.)"""
    if topology == "cluster":
        return request.getfixturevalue("cluster_settings"), request.getfixturevalue("cluster_rds")
    return request.getfixturevalue("settings"), request.getfixturevalue("rds")


@pytest.fixture
def uid() -> str:
    """A short unique suffix so tests never share chargers or partners."""
    return secrets.token_hex(3)
