"""What the synchronous and asynchronous clients share: base URL, headers, answers."""

from __future__ import annotations

import json
from typing import Any

import httpx

from evcharging_client import errors
from evcharging_client.operations import API, Call

VERSION = "1.0.0"
USER_AGENT = f"evcharging-client-python/{VERSION}"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
# The feed sends a keep-alive comment every 15 s: this long without a byte means a dead link.
EVENTS_IDLE_TIMEOUT = 45.0


def origin(base_url: str) -> str:
    """The URL the API's paths go under: the gateway's, without a trailing /api/v1."""
    url = base_url.rstrip("/")
    if url.endswith(API):
        url = url[: -len(API)]
    return url


def partner_headers(api_key: str) -> dict[str, str]:
    if not api_key:
        raise ValueError("an API key is required")
    return {"x-api-key": api_key, "User-Agent": USER_AGENT, "Accept": "application/json"}


def admin_headers(admin_token: str, actor: str | None) -> dict[str, str]:
    if not admin_token:
        raise ValueError("an admin token is required")
    headers = {
        "Authorization": f"Bearer {admin_token}",
        "User-Agent": USER_AGENT,
        "Accept": "application/json",
    }
    if actor:
        headers["X-Actor"] = actor
    return headers


def body_of(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text


def error_of(call: Call[Any] | None, response: httpx.Response) -> errors.APIError:
    return errors.from_response(
        response.status_code,
        body_of(response),
        response.headers,
        idempotent_request=call is not None and call.idempotency_key is not None,
    )


def result_of(call: Call[Any], response: httpx.Response) -> Any:
    body = body_of(response)
    try:
        return call.parse(body, response.headers)
    except Exception as exc:  # the answer is not what the API documents
        raise errors.EVChargingError(
            f"{call.operation_id}: unexpected answer ({response.status_code}): {exc}"
        ) from exc


def request_sent(exc: httpx.TransportError) -> bool:
    """False when the connection failed before the request left: nothing can have happened."""
    return not isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))
