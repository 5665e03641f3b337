"""The one logging setup: JSON lines on stderr, with context fields when given.

Context fields (request id, charger id, partner id) come from `extra=` on a call, or from
`log_context(...)` around a block, so every line logged while handling one request or one
charger's message carries them. Fields that could hold a secret are never written.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import orjson

_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
_CONTEXT: ContextVar[dict[str, Any]] = ContextVar("evcs_log_context", default={})  # noqa: B039

# Field names (lowercase, '-' as '_') whose values are never logged, wherever they appear.
SECRET_FIELDS = frozenset(
    {
        "password",
        "pw",
        "api_key",
        "x_api_key",
        "apikey",
        "key",
        "authorization",
        "token",
        "admin_token",
        "secret",
        "database_url",
        "redis_url",
    }
)
REDACTED = "[redacted]"


def _redact(name: str, value: Any) -> Any:
    return REDACTED if name.lower().replace("-", "_") in SECRET_FIELDS else value


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add `fields` to every line logged inside the block (in this task and those it starts)."""
    token = _CONTEXT.set({**_CONTEXT.get(), **fields})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in _CONTEXT.get().items():
            if value is not None:
                out[key] = _redact(key, value)
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                out[key] = _redact(key, value)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


def setup_logging(level: str = "INFO", fmt: str = "json", process: str | None = None) -> None:
    """Configure the root logger once for this process."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        prefix = f"[{process}] " if process else ""
        handler.setFormatter(
            logging.Formatter(f"%(asctime)s {prefix}%(levelname)s %(name)s: %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("websockets.server", "websockets.client", "aiohttp.access", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
