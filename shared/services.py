"""Turn settings into concrete server URLs: the configured servers, the embedded ones `evcs dev`
runs, or (for a command that needs them only while it runs) embedded ones it starts and stops.

A long-running process or an admin command never starts a database of its own: one left
behind would outlive the command and hold its port, unnoticed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from shared import embedded, embedded_cluster
from shared.settings import Settings


class NotRunning(RuntimeError):
    """No server is configured and none is running under the data folder."""


def attach(settings: Settings) -> Settings:
    """The configured servers, or the embedded ones already running under `data_dir`."""
    database_url = settings.database_url or _running_postgres(settings)
    redis_url = settings.redis_url or _running_redis(settings)
    if database_url and redis_url:
        return settings.with_urls(database_url, redis_url)
    missing = " and ".join(
        name for name, url in (("PostgreSQL", database_url), ("Redis", redis_url)) if not url
    )
    raise NotRunning(
        f"no {missing} to use: no system is running under {settings.data_dir.resolve()};"
        " start it with `make dev`, or set EVCS_DATABASE_URL and EVCS_REDIS_URL"
    )


@contextmanager
def servers(settings: Settings) -> Iterator[Settings]:
    """The configured or running servers, or embedded ones started for the caller's while
    and stopped after it."""
    data = settings.data_dir
    started: list[str] = []
    database_url = settings.database_url or _running_postgres(settings)
    redis_url = settings.redis_url or _running_redis(settings)
    try:
        if not database_url:
            database_url = embedded.start_postgres(data / "postgres")
            started.append("postgres")
        if not redis_url:
            redis_url = embedded.start_redis(data / "redis", settings.embedded_redis_appendfsync)
            started.append("redis")
        yield settings.with_urls(database_url, redis_url)
    finally:
        if "redis" in started:
            embedded.stop_redis(data / "redis")
        if "postgres" in started:
            embedded.stop_postgres(data / "postgres")


def _running_postgres(settings: Settings) -> str | None:
    folder = settings.data_dir / "postgres"
    if not embedded.postgres_running(folder):
        return None
    return embedded.start_postgres(folder)  # attaches: it is running


def _running_redis(settings: Settings) -> str | None:
    for folder in (settings.data_dir / "redis", settings.data_dir / "redis-cluster"):
        if embedded_cluster.is_cluster(folder):
            if embedded_cluster.running(folder):
                return embedded_cluster.url(embedded_cluster.read_layout(folder))
        elif embedded.redis_running(folder):
            return embedded.start_redis(folder)  # attaches: it is running
    return None
