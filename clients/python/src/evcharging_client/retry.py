"""When to retry a request, and how long to wait first: plain decisions, no I/O.

Only what a partner would want retried is: 429 and 503 (waiting what ``Retry-After`` says),
409 "the first request with this Idempotency-Key still runs", and a lost connection when
repeating the request cannot do anything twice (reads, and commands, which always carry an
Idempotency-Key). Every retry is bounded by a count, by the longest single wait, and by the
total time spent waiting.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """How persistent the client is. ``RetryPolicy(max_retries=0)`` never retries."""

    max_retries: int = 3
    """Retries after the first attempt."""
    max_wait: float = 30.0
    """Longest single wait in seconds: a Retry-After beyond it is raised to you at once."""
    total_wait: float = 60.0
    """Most seconds spent waiting over all retries of one call."""
    backoff: float = 0.5
    """First wait when the API gave no Retry-After; doubles each time (with jitter)."""


NEVER = RetryPolicy(max_retries=0)

_RETRY_STATUSES = frozenset({429, 503})


def wait_before_retry(
    policy: RetryPolicy,
    attempt: int,
    waited: float,
    *,
    status: int | None,
    retry_after: float | None,
    replayable: bool,
    has_idempotency_key: bool,
    request_sent: bool,
) -> float | None:
    """Seconds to wait before attempt ``attempt + 1``, or None to give up.

    ``status`` is None when there was no HTTP answer; ``request_sent`` is False when the
    connection failed before the request left (then nothing can have happened).
    """
    if attempt > policy.max_retries:
        return None
    if status is None:
        if request_sent and not replayable:
            return None
    elif status == 409:
        # the first request with this key still runs: the API says when to ask again
        if not (has_idempotency_key and retry_after is not None):
            return None
    elif status not in _RETRY_STATUSES:
        return None
    if retry_after is not None:
        delay = retry_after
    else:
        delay = policy.backoff * (2.0 ** (attempt - 1)) * (0.5 + random.random() / 2)
    if delay > policy.max_wait or waited + delay > policy.total_wait:
        return None
    return delay


_RECONNECT_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RECONNECT_WAIT = 30.0


def reconnect_delay(
    failures: int, status: int | None, retry_after: float | None, server_retry_ms: int | None
) -> float | None:
    """Seconds to wait before reconnecting the event feed, or None to give up.

    ``failures`` counts the consecutive attempts that failed (0: the stream had been open and
    ended cleanly, so wait what the server asked in its ``retry:`` field). Statuses that a
    retry cannot fix (400, 401, 403, 404) give up.
    """
    if status is not None and status not in _RECONNECT_STATUSES:
        return None
    if retry_after is not None:
        return retry_after
    if failures == 0:
        return (server_retry_ms if server_retry_ms is not None else 2000) / 1000
    backoff = min(MAX_RECONNECT_WAIT, 0.5 * 2.0 ** (failures - 1))
    return backoff * (0.5 + random.random() / 2)
