"""Property-based fuzzing with schemathesis against a running gateway's own OpenAPI document:
whatever valid or invalid request it makes, no 5xx, and every answer (status, headers,
content type, body) is one the document describes.

The gateway runs on a real socket in a thread of its own (schemathesis calls it with a
blocking HTTP client), with its own Redis client and pool on the session's servers.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from pydantic import SecretStr
from schemathesis.generation.modes import GenerationMode

from gateway.app import create_app
from gateway.state import POOL, REDIS
from shared import registry
from shared.redis_keys import Keys
from shared.settings import Settings
from tests.gateway.support import ADMIN_TOKEN

FUZZ_CHARGER = "CP-0001"  # the documents' example id: examples then reach a real charger


class ThreadedGateway:
    """A gateway served from its own event loop in a thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.runner: web.AppRunner | None = None
        self.url = ""
        self.key = ""

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    async def _start(self) -> None:
        app = create_app(self.settings)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        pool, r = app[POOL], app[REDIS]
        partner = await registry.create_partner(
            pool, "Fuzz", rate_limit_minute=1_000_000, rate_limit_hour=1_000_000
        )
        _, self.key = await registry.issue_api_key(pool, partner.id)
        try:
            await registry.register_charger(
                pool, r, Keys.of(self.settings), FUZZ_CHARGER, partner_id=partner.id
            )
        except registry.Conflict:
            await registry.assign_charger(pool, r, Keys.of(self.settings), FUZZ_CHARGER, partner.id)

    def start(self) -> None:
        self.thread.start()
        self.run(self._start())

    def stop(self) -> None:
        if self.runner is not None:
            self.run(self.runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def running_gateway(settings: Settings) -> Iterator[ThreadedGateway]:
    gateway = ThreadedGateway(
        settings.model_copy(update={"admin_token": SecretStr(ADMIN_TOKEN), "command_timeout": 1.0})
    )
    gateway.start()
    try:
        yield gateway
    finally:
        gateway.stop()


@pytest.fixture(scope="module")
def api_schema(running_gateway: ThreadedGateway) -> Any:
    schema = schemathesis.openapi.from_url(f"{running_gateway.url}/api/openapi.json")
    # an event stream never ends by itself; the streams have tests of their own
    return schema.exclude(path="/api/v1/events").exclude(path="/api/v1/admin/events")


EXAMPLES_PER_MODE = 4  # per operation, positive and negative: a few hundred requests in all


def _auth(path: str, key: str) -> dict[str, str]:
    if path.startswith("/api/v1/admin"):
        return {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    return {"x-api-key": key}


def _empty_window(query: dict[str, Any]) -> bool:
    if "from" not in query:
        return False
    try:
        start = datetime.fromisoformat(str(query["from"]))
        end = datetime.fromisoformat(str(query["to"])) if "to" in query else datetime.now(UTC)
        return start >= end
    except (ValueError, TypeError):
        return False  # not a time: the 400 is the answer


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_describe(e) for e in exc.exceptions)
    return f"{exc} {getattr(exc, 'message', '')}".strip()


def _check(
    operation: Any, strategy: Any, count: int, gateway: ThreadedGateway, positive: bool = True
) -> list[str]:
    failures: list[str] = []

    @given(case=strategy)
    @settings(
        max_examples=count,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        if positive and case.query:
            # an opaque cursor that this API never issued is a 400, though it fits the schema
            case.query.pop("cursor", None)
            # so is a history window that ends before it starts (`to` is now if not given)
            if _empty_window(case.query):
                case.query.pop("from")
                case.query.pop("to", None)
        if case.headers and "Idempotency-Key" in case.headers:
            # a key reused for another request is a 422 (tested elsewhere): one key per case
            case.headers["Idempotency-Key"] = uuid.uuid4().hex
        try:
            case.call_and_validate(
                base_url=gateway.url, headers=_auth(case.path, gateway.key), timeout=15
            )
        except (Exception, BaseExceptionGroup) as exc:  # every failing case is reported
            failures.append(
                f"{operation.label}: {_describe(exc)}\n  {case.as_curl_command(base_url=gateway.url)}"
            )

    try:
        run()
    except Unsatisfiable:
        pass  # nothing in the operation can be made invalid (e.g. no parameters): fine
    return failures


def test_no_server_errors_and_every_answer_as_documented(
    api_schema: Any, running_gateway: ThreadedGateway
) -> None:
    failures: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 30
    for operation in operations:
        for example in api_schema.get_strategies_from_examples(operation):
            failures += _check(operation, example, 1, running_gateway)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode)
            failures += _check(
                operation,
                strategy,
                EXAMPLES_PER_MODE,
                running_gateway,
                positive=mode is GenerationMode.POSITIVE,
            )
    assert not failures, "\n\n".join(failures[:10])
