"""PostgreSQL: the connection pool and the plain-SQL migrations kept beside this module."""

from __future__ import annotations

import logging
from importlib import resources
from urllib.parse import parse_qs, urlsplit

import asyncpg
import orjson

log = logging.getLogger(__name__)

_MIGRATION_LOCK = 0x65766373  # "evcs": one migrator at a time across processes
# History partitions exist this many days ahead (recorders keep it so every hour).
PARTITION_DAYS_AHEAD = 2
# Seconds a pooled statement may take. A link to PostgreSQL that went silent (a host gone
# without a reset) otherwise holds a recorder, or a request, until TCP gives up, ~15 min;
# past this the statement fails with TimeoutError, which callers take as PostgreSQL down.
STATEMENT_TIMEOUT = 60.0

# PostgreSQL cannot serve now: down, shutting down or starting up, failing over, or the
# connection lost mid-query (asyncpg then reports a client state it cannot leave). Callers
# answer 503 or retry; any other error is a bug to see.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,
    TimeoutError,
)


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda v: orjson.dumps(v).decode(),
        decoder=orjson.loads,
        schema="pg_catalog",
    )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Nothing to undo when a connection goes back to the pool (asyncpg still rolls back an open
    transaction): our statements leave no session state. Settings are set per transaction
    (`set_config(..., true)`), cursors live inside transactions, nothing LISTENs, and the only
    advisory lock is the migrations', on a connection of their own. asyncpg's default reset
    (`RESET ALL`, `CLOSE ALL`, `UNLISTEN *`, unlocking advisory locks) is one more round trip
    that every pooled query waits for before it returns."""


class PostgresUnavailable(RuntimeError):
    """PostgreSQL cannot be used as configured; the message is one line for the operator, and
    never holds the URL's password (as shared.redis_client.RedisUnavailable)."""


# What the first connection can fail with besides PostgreSQL being down: the configuration.
_REFUSED_AT_CONNECT = (
    asyncpg.InvalidAuthorizationSpecificationError,  # a wrong user or password
    asyncpg.InvalidCatalogNameError,  # no such database
)


def _unavailable(url: str, exc: BaseException) -> PostgresUnavailable:
    parts = urlsplit(url)
    host = parts.hostname or parse_qs(parts.query).get("host", ["localhost"])[0]
    where = f"{host}:{parts.port or 5432}"
    if isinstance(exc, _REFUSED_AT_CONNECT):
        return PostgresUnavailable(f"PostgreSQL at {where} refused the connection: {exc}")
    return PostgresUnavailable(f"no PostgreSQL answers at {where}: {exc}")


async def create_pool(
    url: str, *, min_size: int = 1, max_size: int = 10, command_timeout: float = STATEMENT_TIMEOUT
) -> asyncpg.Pool:
    try:
        pool = await asyncpg.create_pool(
            url,
            min_size=min_size,
            max_size=max_size,
            command_timeout=command_timeout,
            init=_init_connection,
            reset=_keep_session,
        )
    except (*UNAVAILABLE, *_REFUSED_AT_CONNECT) as exc:
        raise _unavailable(url, exc) from exc
    assert pool is not None
    return pool


def migration_files() -> list[tuple[str, str]]:
    """(version, sql) in the order they apply."""
    folder = resources.files("shared") / "migrations"
    files = sorted((p for p in folder.iterdir() if p.name.endswith(".sql")), key=lambda p: p.name)
    return [(p.name.removesuffix(".sql"), p.read_text()) for p in files]


async def migrate(url: str) -> list[str]:
    """Apply every migration not yet applied; returns the versions applied now."""
    try:
        conn = await asyncpg.connect(url)
    except (*UNAVAILABLE, *_REFUSED_AT_CONNECT) as exc:
        raise _unavailable(url, exc) from exc
    applied_now: list[str] = []
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        for version, sql in migration_files():
            if version in done:
                continue
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
            applied_now.append(version)
            log.info("migration applied", extra={"version": version})
        await conn.execute("SELECT evcs_maintain_partitions($1, 0)", PARTITION_DAYS_AHEAD)
    finally:
        await conn.close()
    return applied_now
