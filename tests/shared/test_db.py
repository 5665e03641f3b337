"""The PostgreSQL pool (shared.db): a connection goes back without a reset round trip, so
nothing may leave session state behind; an open transaction is still rolled back."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

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
