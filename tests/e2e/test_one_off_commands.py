"""One-off commands (`evcs admin`, `evcs migrate`) as a user runs them from a shell: they never
leave a server behind, and when there is nothing to work on they say so in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from shared import embedded
from shared.settings import Settings


def _evcs(*argv: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("EVCS_")}
    return subprocess.run(
        [sys.executable, "-m", "evcs", *argv],
        cwd=cwd,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _no_server_left(data: Path) -> None:
    assert not embedded.postgres_running(data / "postgres")
    assert not embedded.redis_running(data / "redis")


def test_admin_with_no_system_running_says_so_and_starts_nothing(tmp_path: Path) -> None:
    result = _evcs("admin", "list-partners", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: no PostgreSQL and Redis to use"), result.stderr
    assert "make dev" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / ".evcs").exists()  # not even the folder


def test_migrate_starts_the_embedded_database_for_itself_and_stops_it(tmp_path: Path) -> None:
    result = _evcs("migrate", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "applied:" in result.stdout
    _no_server_left(tmp_path / ".evcs")


async def test_admin_on_a_database_without_schema_says_run_migrate(
    tmp_path: Path, server_urls: tuple[str, str], settings: Settings, uid: str
) -> None:
    admin_url, redis_url = server_urls
    name = f"evcs_empty_{uid}"
    conn = await asyncpg.connect(admin_url)
    await conn.execute(f'CREATE DATABASE "{name}"')
    try:
        empty = urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
        result = _evcs(
            "admin",
            "list-partners",
            cwd=tmp_path,
            EVCS_DATABASE_URL=empty,
            EVCS_REDIS_URL=redis_url,
            EVCS_REDIS_PREFIX=settings.redis_prefix,
        )
        assert result.returncode == 2
        assert result.stderr.strip() == "error: the database has no schema yet; run `evcs migrate`"
    finally:
        await conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await conn.close()
