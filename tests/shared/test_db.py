"""The PostgreSQL pool (shared.db): a connection goes back without a reset round trip, so
nothing may leave session state behind; an open transaction is still rolled back; a statement
on a link gone silent fails within the pool's timeout, and the pool serves again after."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

import asyncpg
import pytest

from evcs.chaos.proxy import LinkProxy
from shared import db
from shared.settings import Settings


@pytest.fixture
async def pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    assert settings.database_url
    created = await db.create_pool(settings.database_url, min_size=1, max_size=1)
    yield created
    await created.close()


async def test_a_connection_comes_back_as_it_was_left(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute("SET application_name = 'left-behind'")
    async with pool.acquire() as conn:  # the same connection: the pool holds one
        # no RESET ALL on release: session settings stay, which is why none is ever set
        assert await conn.fetchval("SHOW application_name") == "left-behind"
        await conn.execute("RESET application_name")


async def test_an_open_transaction_is_rolled_back_on_release(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute("BEGIN")
        await conn.execute("CREATE TEMP TABLE gone (x int)")
    async with pool.acquire() as conn:
        assert not conn.is_in_transaction()
        assert await conn.fetchval("SELECT to_regclass('pg_temp.gone')") is None


def _proxied(url: str) -> tuple[LinkProxy, str]:
    """A proxy to the database `url` names (over TCP or its Unix socket), and the URL through
    it."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    host = query.get("host", [parts.hostname or "127.0.0.1"])[0]
    port = int(query.get("port", [parts.port or 5432])[0])
    proxy = LinkProxy(f"{host}/.s.PGSQL.{port}") if host.startswith("/") else LinkProxy(host, port)
    user = parts.netloc.rpartition("@")[0]
    return proxy, urlunsplit((parts.scheme, f"{user}@127.0.0.1:{{port}}", parts.path, "", ""))


async def test_a_statement_on_a_silent_link_times_out_and_the_pool_serves_again(
    settings: Settings,
) -> None:
    assert settings.database_url
    proxy, via = _proxied(settings.database_url)
    await proxy.start()
    pool = await db.create_pool(
        via.format(port=proxy.port), min_size=1, max_size=1, command_timeout=0.5
    )
    try:
        assert await pool.fetchval("SELECT 1") == 1
        proxy.cut("drop")  # nothing passes, nothing is reset: the host is gone
        with pytest.raises(TimeoutError):
            await pool.fetchval("SELECT 2")
        proxy.restore()
        assert await pool.fetchval("SELECT 3") == 3
    finally:
        proxy.restore()
        await pool.close()
        await proxy.stop()


async def test_nothing_listening_is_one_clear_error() -> None:
    with pytest.raises(db.PostgresUnavailable, match=r"no PostgreSQL answers at 127\.0\.0\.1:1:"):
        await db.create_pool("postgresql://someone:s3cret@127.0.0.1:1/x")
    with pytest.raises(db.PostgresUnavailable) as refused:
        await db.migrate("postgresql://someone:s3cret@127.0.0.1:1/x")
    assert "s3cret" not in str(refused.value)


def test_the_cli_says_so_in_one_line(settings: Settings, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVCS_")}
    env["EVCS_DATABASE_URL"] = "postgresql://someone:s3cret@127.0.0.1:1/x"
    env["EVCS_REDIS_URL"] = str(settings.redis_url)
    done = subprocess.run(
        [sys.executable, "-m", "evcs", "admin", "list-partners"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: no PostgreSQL answers at 127.0.0.1:1:")
    assert "Traceback" not in done.stderr and "s3cret" not in done.stderr
