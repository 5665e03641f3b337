"""Idempotency-Key: the same key and request within the retention replays the first answer
without running the request again; the same key with another request is 422; the same key
while the first request still runs is 409. Keys are per partner, kept in Redis.

A request reserves its key with SET NX before it runs, so of any number of concurrent
repeats exactly one runs. The reservation lives only as long as a command may take, so a
gateway that dies mid-request does not block the key for a day.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum

import orjson
from aiohttp import web

from gateway.commands import REPLY_MARGIN
from gateway.errors import ApiError, error_response
from gateway.state import KEYS, REDIS, SETTINGS, partner_id

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
_VALID_KEY = re.compile(r"[\x21-\x7e]{1,255}")
# Answers that mean "nothing was done, try again": not kept, so a retry runs anew.
_NOT_KEPT = frozenset({500, 503})
# Headers of the first answer that a replay repeats.
_KEPT_HEADERS = ("Location", "Preference-Applied")


@dataclass(frozen=True, slots=True)
class Stored:
    fingerprint: str
    done: bool
    status: int = 0
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "f": self.fingerprint,
                "d": self.done,
                "s": self.status,
                "b": self.body,
                "h": self.headers,
            }
        )


def decode(raw: str | bytes | None) -> Stored | None:
    if raw is None:
        return None
    try:
        d = orjson.loads(raw)
        return Stored(d["f"], bool(d["d"]), int(d["s"]), str(d["b"]), dict(d["h"]))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


class Verdict(Enum):
    REPLAY = "replay"
    RUNNING = "running"
    MISMATCH = "mismatch"


def judge(existing: Stored, fingerprint: str) -> Verdict:
    if existing.fingerprint != fingerprint:
        return Verdict.MISMATCH
    return Verdict.REPLAY if existing.done else Verdict.RUNNING


def fingerprint(*parts: str | bytes) -> str:
    """A digest of what makes two requests the same request."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        h.update(len(data).to_bytes(4, "big"))
        h.update(data)
    return h.hexdigest()


def key_of(request: web.Request) -> str | None:
    """The request's Idempotency-Key, None if it sent none; 400 if it is not a sane one."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not _VALID_KEY.fullmatch(key):
        raise ApiError(400, f"{HEADER} must be 1 to 255 visible ASCII characters")
    return key


def _replay(stored: Stored) -> web.Response:
    return web.Response(
        body=stored.body.encode(),
        status=stored.status,
        content_type="application/json",
        headers={**stored.headers, REPLAYED: "true"},
    )


async def once(
    request: web.Request,
    key: str | None,
    fingerprint_: str,
    run: Callable[[], Awaitable[web.Response]],
    takes: float | None = None,
) -> web.Response:
    """Run the request, or, under a key already used, answer as the key says; `takes`, the
    longest `run` may take in seconds (one command's deadline if None)."""
    if key is None:
        return await run()
    app = request.app
    r = app[REDIS]
    rkey = app[KEYS].idempotency(partner_id(request), key)
    # held while it runs, and then some: a retry after the hold would run it again
    if takes is None:
        takes = app[SETTINGS].command_timeout + REPLY_MARGIN
    running_ttl = math.ceil(takes + 5)
    reserved = Stored(fingerprint_, done=False).encode()
    for _ in range(3):
        if await r.set(rkey, reserved, nx=True, ex=running_ttl):
            break
        existing = decode(await r.get(rkey))
        if existing is None:
            continue  # it expired between the two calls: try to reserve again
        match judge(existing, fingerprint_):
            case Verdict.MISMATCH:
                raise ApiError(
                    422, f"this {HEADER} was used for a different request; use a new key"
                )
            case Verdict.RUNNING:
                raise ApiError(
                    409,
                    f"a request with this {HEADER} is still running; retry shortly",
                    headers={"Retry-After": "1"},
                )
            case Verdict.REPLAY:
                return _replay(existing)
    else:
        raise ApiError(409, f"this {HEADER} is contended; retry shortly")

    try:
        try:
            response = await run()
        except ApiError as exc:
            response = error_response(request, exc)
    except BaseException:
        await r.delete(rkey)
        raise
    if response.status in _NOT_KEPT or not isinstance(response.body, bytes):
        await r.delete(rkey)
        return response
    kept = {h: response.headers[h] for h in _KEPT_HEADERS if h in response.headers}
    stored = Stored(fingerprint_, True, response.status, response.body.decode(), kept)
    await r.set(rkey, stored.encode(), ex=app[SETTINGS].idempotency_seconds)
    return response
