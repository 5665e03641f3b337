# Generated from _async_transport.py by `python clients/python/scripts/unasync.py`: do not edit.
# Change _async_transport.py and run that command; a test fails while this file differs.
"""How the synchronous clients send :class:`~evcharging_client.operations.Call` s: with
retries, page after page, over one HTTP client."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Protocol, TypeVar

import httpx

from evcharging_client import _http, errors
from evcharging_client import operations as op
from evcharging_client.retry import RetryPolicy, wait_before_retry

T = TypeVar("T")
P = TypeVar("P")
I = TypeVar("I")  # noqa: E741


class _Sleep(Protocol):
    """Waits between retries and before reconnecting; tests swap it to skip the wait."""

    def __call__(self, seconds: float, /) -> None: ...


class Transport:
    """Sends :class:`~evcharging_client.operations.Call` s with retries; owns the HTTP client."""

    def __init__(
        self,
        base_url: str,
        headers: dict[str, str],
        timeout: float | httpx.Timeout | None,
        retry: RetryPolicy | None,
        transport: httpx.BaseTransport | None,
    ) -> None:
        self.retry = retry or RetryPolicy()
        self._http = httpx.Client(
            base_url=_http.origin(base_url),
            headers=headers,
            timeout=timeout if timeout is not None else _http.DEFAULT_TIMEOUT,
            transport=transport,
        )
        self._sleep: _Sleep = time.sleep

    def send(self, call: op.Call[T]) -> T:
        attempt, waited = 0, 0.0
        while True:
            attempt += 1
            try:
                response = self._http.request(
                    call.method,
                    call.path,
                    params=call.params or None,
                    json=call.json,
                    headers=call.headers,
                )
            except httpx.TransportError as exc:
                delay = wait_before_retry(
                    self.retry,
                    attempt,
                    waited,
                    status=None,
                    retry_after=None,
                    replayable=call.replayable,
                    has_idempotency_key=call.idempotency_key is not None,
                    request_sent=_http.request_sent(exc),
                )
                if delay is None:
                    raise errors.TransportError(f"{call.operation_id}: {exc!r}") from exc
            else:
                if response.is_success:
                    result: T = _http.result_of(call, response)
                    return result
                error = _http.error_of(call, response)
                delay = wait_before_retry(
                    self.retry,
                    attempt,
                    waited,
                    status=response.status_code,
                    retry_after=error.retry_after,
                    replayable=call.replayable,
                    has_idempotency_key=call.idempotency_key is not None,
                    request_sent=True,
                )
                if delay is None:
                    raise error
            self._sleep(delay)
            waited += delay

    def pages(
        self,
        page: Callable[[str | None], op.Call[P]],
        items: Callable[[P], list[I]],
        next_cursor: Callable[[P], str | None],
    ) -> Iterator[I]:
        cursor: str | None = None
        while True:
            current = self.send(page(cursor))
            for item in items(current):
                yield item
            cursor = next_cursor(current)
            if cursor is None:
                return

    def close(self) -> None:
        self._http.close()
