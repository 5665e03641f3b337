"""Turn settings into concrete server URLs, starting the embedded servers where none is set."""

from __future__ import annotations

from shared import embedded
from shared.settings import Settings


def resolve(settings: Settings) -> Settings:
    """Settings with both URLs set: the configured servers, or the embedded ones."""
    if settings.database_url and settings.redis_url:
        return settings
    database_url = settings.database_url
    redis_url = settings.redis_url
    if not database_url:
        database_url = embedded.start_postgres(settings.data_dir / "postgres")
    if not redis_url:
        redis_url = embedded.start_redis(
            settings.data_dir / "redis", settings.embedded_redis_appendfsync
        )
    return settings.with_urls(database_url, redis_url)
