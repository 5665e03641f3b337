"""Group commit of the command record: concurrent writers share commits, and each hears its
own rows' fate."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from gateway.grouped_write import GroupedWrite


@pytest.fixture
async def table(pool: asyncpg.Pool, uid: str) -> AsyncIterator[str]:
    name = f"grouped_{uid}"
    await pool.execute(f"CREATE TABLE {name} (id text PRIMARY KEY, note text NOT NULL)")
    yield name
    await pool.execute(f"DROP TABLE {name}")


class CountingPool:
    """The real pool, counting the statements it runs."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.batches: list[int] = []

    async def executemany(self, statement: str, rows: list[Any]) -> None:
        self.batches.append(len(rows))
        await self.pool.executemany(statement, rows)


async def test_concurrent_writers_share_a_commit_and_every_row_lands(
    pool: asyncpg.Pool, table: str
) -> None:
    counting = CountingPool(pool)
    write = GroupedWrite(counting, f"INSERT INTO {table} VALUES ($1, $2)")  # type: ignore[arg-type]
    await asyncio.gather(*(write.write([(f"r{i}", "x")]) for i in range(10)))
    assert await pool.fetchval(f"SELECT count(*) FROM {table}") == 10
    assert sum(counting.batches) == 10
    assert len(counting.batches) <= 2  # one commit each before


async def test_a_failed_commit_fails_every_writer_of_its_group_and_the_next_group_lands(
    pool: asyncpg.Pool, table: str
) -> None:
    write = GroupedWrite(pool, f"INSERT INTO {table} VALUES ($1, $2)")
    outcomes = await asyncio.gather(
        write.write([("a", "x")]),
        write.write([("b", None)]),  # NOT NULL: the whole group is refused
        return_exceptions=True,
    )
    assert all(isinstance(o, asyncpg.NotNullViolationError) for o in outcomes)
    assert await pool.fetchval(f"SELECT count(*) FROM {table}") == 0
    await write.write([("c", "x")])
    assert await pool.fetchval(f"SELECT id FROM {table}") == "c"


async def test_a_writer_that_gives_up_leaves_the_others_and_its_rows_are_written(
    pool: asyncpg.Pool, table: str
) -> None:
    write = GroupedWrite(pool, f"INSERT INTO {table} VALUES ($1, $2)")
    quitter = asyncio.create_task(write.write([("gone", "x")]))
    stayer = asyncio.create_task(write.write([("kept", "x")]))
    await asyncio.sleep(0)  # both have handed over their rows
    quitter.cancel()
    await stayer
    with pytest.raises(asyncio.CancelledError):
        await quitter
    ids = {r["id"] for r in await pool.fetch(f"SELECT id FROM {table}")}
    assert ids == {"gone", "kept"}
