"""The Python client's decisions, without a server: errors from the standard body, when to
retry and how long to wait, the SSE parser, and that a command's retries share one key."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from evcharging_client import (
    APIError,
    BadRequest,
    ChargerError,
    ChargerOffline,
    CommandNotApplicable,
    CommandTimeout,
    Conflict,
    EVChargingClient,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    RateLimited,
    RetryPolicy,
    ServerError,
    ServiceUnavailable,
    StatusEvent,
    TransportError,
    UnknownEvent,
)
from evcharging_client._http import origin
from evcharging_client.errors import from_response
from evcharging_client.retry import reconnect_delay, wait_before_retry
from evcharging_client.sse import SseParser, to_event


def _body(status: int, **extra: Any) -> dict[str, Any]:
    return {
        "statusCode": status,
        "message": "something",
        "error": "Some Error",
        "timestamp": "2026-03-01T10:15:30.000Z",
        "path": "/api/v1/chargers/CP-1/control",
        **extra,
    }


@pytest.mark.parametrize(
    ("status", "extra", "idempotent", "cls"),
    [
        (400, {}, False, BadRequest),
        (409, {"outcome": "EVSE_OFFLINE", "commandId": "cmd_1"}, True, ChargerOffline),
        (409, {"outcome": "NOT_SUPPORTED", "commandId": "cmd_1"}, True, CommandNotApplicable),
        (409, {}, True, IdempotencyInProgress),
        (409, {}, False, Conflict),
        (422, {}, True, IdempotencyKeyReused),
        (422, {}, False, APIError),  # e.g. an operator's OCPP payload that breaks its schema
        (429, {}, False, RateLimited),
        (502, {"outcome": "FAILED"}, True, ChargerError),
        (503, {}, False, ServiceUnavailable),
        (504, {"outcome": "TIMEOUT"}, True, CommandTimeout),
        (500, {}, False, ServerError),
        (418, {}, False, APIError),
    ],
)
def test_error_classes_follow_status_and_outcome(
    status: int, extra: dict[str, Any], idempotent: bool, cls: type[APIError]
) -> None:
    headers = httpx.Headers({"X-Request-Id": "req-1", "Retry-After": "7"})
    error = from_response(status, _body(status, **extra), headers, idempotent_request=idempotent)
    assert type(error) is cls
    assert (error.status, error.message, error.request_id, error.retry_after) == (
        status,
        "something",
        "req-1",
        7.0,
    )
    assert error.outcome == extra.get("outcome") and error.command_id == extra.get("commandId")
    assert error.body["path"] == "/api/v1/chargers/CP-1/control"


def test_an_error_without_the_standard_body_still_maps() -> None:
    error = from_response(502, "<html>bad gateway</html>", httpx.Headers())
    assert type(error) is ChargerError and error.message == "<html>bad gateway</html>"
    assert error.retry_after is None and error.request_id is None


def _wait(status: int | None, **kw: Any) -> float | None:
    args: dict[str, Any] = {
        "retry_after": None,
        "replayable": True,
        "has_idempotency_key": False,
        "request_sent": True,
        **kw,
    }
    policy = args.pop("policy", RetryPolicy())
    attempt = args.pop("attempt", 1)
    waited = args.pop("waited", 0.0)
    return wait_before_retry(policy, attempt, waited, status=status, **args)


def test_retries_only_what_a_partner_wants_retried() -> None:
    assert _wait(429, retry_after=3) == 3
    assert _wait(503, retry_after=2) == 2
    backoff = _wait(503)
    assert backoff is not None and 0.25 <= backoff <= 0.5
    for status in (400, 401, 403, 404, 409, 422, 500, 502, 504):
        assert _wait(status) is None, status
    # the first request under this key still runs: wait what the API says
    assert _wait(409, retry_after=1, has_idempotency_key=True) == 1
    # a lost answer: repeat only what cannot do anything twice
    assert _wait(None) is not None
    assert _wait(None, replayable=False) is None
    assert _wait(None, replayable=False, request_sent=False) is not None


def test_retries_are_bounded() -> None:
    policy = RetryPolicy(max_retries=2, max_wait=10, total_wait=15)
    assert _wait(429, retry_after=11, policy=policy) is None  # longer than one wait may be
    assert _wait(429, retry_after=6, policy=policy, waited=10) is None  # over the budget
    assert _wait(429, retry_after=1, policy=policy, attempt=3) is None  # out of retries
    assert _wait(429, retry_after=1, policy=RetryPolicy(max_retries=0)) is None


def test_reconnection_waits() -> None:
    assert reconnect_delay(0, None, None, 2000) == 2.0  # a clean end: the server's retry hint
    assert reconnect_delay(1, 429, 12.0, 2000) == 12.0
    grown = reconnect_delay(10, None, None, None)
    assert grown is not None and grown <= 30
    for status in (400, 401, 403, 404):
        assert reconnect_delay(1, status, None, None) is None


def test_sse_parser_follows_the_event_stream_format() -> None:
    parser = SseParser()
    lines = [
        "retry: 2000",
        "",
        ": keep-alive",
        "id: 1-0",
        "event: status",
        'data: {"chargerId": "CP-1", "connectorId": 1, "status": "CHARGING",',
        'data: "previousStatus": null, "ocppStatus": "Charging", "errorCode": null,',
        'data: "timestamp": null, "receivedAt": "2026-03-01T10:15:30.000Z"}',
        "",
        "event: gap",
        'data: {"message": "trimmed"}',
        "",
        "event: brand-new",
        "data: [1, 2]",
        "",
    ]
    raws = [raw for raw in (parser.feed(line) for line in lines) if raw is not None]
    assert parser.retry_ms == 2000 and parser.last_event_id == "1-0"
    events = [to_event(raw) for raw in raws]
    status = events[0]
    assert isinstance(status, StatusEvent)
    assert (status.charger_id, status.status, status.event_id) == ("CP-1", "CHARGING", "1-0")
    assert events[1].type == "gap"
    assert isinstance(events[2], UnknownEvent) and events[2].data == [1, 2]


def test_base_url_with_or_without_the_api_prefix() -> None:
    assert origin("https://api.example.com/") == "https://api.example.com"
    assert origin("https://api.example.com/api/v1") == "https://api.example.com"
    assert origin("https://example.com/ev/api/v1/") == "https://example.com/ev"


def test_a_command_retried_after_503_keeps_its_idempotency_key() -> None:
    keys: list[str] = []
    answers = iter(
        [
            httpx.Response(503, json=_body(503)),
            httpx.Response(
                200,
                json={
                    "commandId": "cmd_1",
                    "chargerId": "CP-1",
                    "action": "on",
                    "status": "Accepted",
                    "outcome": "ACCEPTED",
                    "ocppAction": "RemoteStartTransaction",
                    "chargerResponse": {"status": "Accepted"},
                },
            ),
        ]
    )

    def answer(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers["Idempotency-Key"])
        assert json.loads(request.content) == {"action": "on", "connectorId": 2}
        return next(answers)

    client = EVChargingClient("evcs_k", "http://gw", transport=httpx.MockTransport(answer))
    slept: list[float] = []
    client._t._sleep = slept.append
    result = client.control("CP-1", "on", connector_id=2)
    assert result.status == "Accepted" and len(slept) == 1
    assert len(keys) == 2 and keys[0] == keys[1] and len(keys[0]) == 36  # one UUID, twice


def test_ids_cannot_escape_their_path_segment() -> None:
    paths: list[bytes] = []

    def answer(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.raw_path)
        return httpx.Response(404, json=_body(404))

    client = EVChargingClient("evcs_k", "http://gw", transport=httpx.MockTransport(answer))
    with pytest.raises(APIError) as caught:
        client.get_charger_status("CP/../x?y")
    assert caught.value.status == 404
    assert paths == [b"/api/v1/chargers/CP%2F..%2Fx%3Fy/status"]


def test_a_refused_connection_is_a_transport_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client = EVChargingClient(
        "evcs_k",
        "http://gw",
        transport=httpx.MockTransport(refuse),
        retry=RetryPolicy(max_retries=1, backoff=0),
    )
    client._t._sleep = lambda s: None
    with pytest.raises(TransportError):
        client.health()
