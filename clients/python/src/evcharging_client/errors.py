"""One exception hierarchy, mapped from the API's standard error body.

Catch :class:`EVChargingError` for everything, :class:`APIError` for every answer with an error
status, or a subclass for one case::

    EVChargingError
    ├── TransportError                  no HTTP answer (connection refused, reset, timed out)
    └── APIError                        .status, .message, .error, .request_id, .body
        ├── BadRequest                  400
        ├── Unauthorized                401  missing, unknown, revoked or expired key
        ├── Forbidden                   403  account suspended
        ├── NotFound                    404  unknown, or not your charger
        ├── Conflict                    409
        │   ├── ChargerOffline               the charger is not connected (EVSE_OFFLINE)
        │   ├── CommandNotApplicable         e.g. off with no session running (NOT_SUPPORTED)
        │   └── IdempotencyInProgress        the first request with this key still runs
        ├── PayloadTooLarge             413
        ├── UnsupportedMediaType        415
        ├── IdempotencyKeyReused        422  the key was used with a different request
        │                                    (another 422, e.g. an operator's OCPP payload that
        │                                    breaks its schema, is a plain APIError)
        ├── RateLimited                 429  .retry_after
        └── ServerError                 5xx
            ├── ChargerError            502  the charger answered with an OCPP error (FAILED)
            ├── ServiceUnavailable      503  .retry_after; nothing was done, retry later
            └── CommandTimeout          504  no answer from the charger in time (TIMEOUT)

Command failures also carry ``command_id`` and ``outcome`` (see :meth:`Client.get_command`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class EVChargingError(Exception):
    """Base of every error this client raises."""


class TransportError(EVChargingError):
    """The request got no HTTP answer: connection refused or reset, or a timeout."""


class APIError(EVChargingError):
    """The API answered with an error status and the standard error body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error: str = "",
        path: str = "",
        timestamp: str = "",
        request_id: str | None = None,
        command_id: str | None = None,
        outcome: str | None = None,
        retry_after: float | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {error}: {message}" if error else f"{status}: {message}")
        self.status = status
        """The HTTP status."""
        self.message = message
        """What went wrong, for a human."""
        self.error = error
        """The status's reason phrase, e.g. ``Not Found``."""
        self.path = path
        self.timestamp = timestamp
        self.request_id = request_id
        """The X-Request-Id of the answer: quote it when asking for support."""
        self.command_id = command_id
        """For command outcomes: the command's id."""
        self.outcome = outcome
        """For command outcomes: EVSE_OFFLINE, NOT_SUPPORTED, FAILED or TIMEOUT."""
        self.retry_after = retry_after
        """Seconds the API asked to wait before trying again (Retry-After), if it said."""
        self.body: dict[str, Any] = dict(body or {})
        """The whole error body, including fields this client does not know."""


class BadRequest(APIError):
    """400: the request is invalid; the message says where."""


class Unauthorized(APIError):
    """401: no API key, or one that is malformed, unknown, revoked, expired or rotated out."""


class Forbidden(APIError):
    """403: the account is suspended (or a partner key was sent to the admin API)."""


class NotFound(APIError):
    """404: the charger (or command) is unknown, or not yours; the API never tells which."""


class Conflict(APIError):
    """409: the request conflicts with the current state."""


class ChargerOffline(Conflict):
    """409, outcome EVSE_OFFLINE: the charger is not connected; nothing was sent."""


class CommandNotApplicable(Conflict):
    """409, outcome NOT_SUPPORTED: the command does not apply to the charger's state."""


class IdempotencyInProgress(Conflict):
    """409: a request with the same Idempotency-Key is still running; retry shortly."""


class PayloadTooLarge(APIError):
    """413: the body is larger than the API accepts."""


class UnsupportedMediaType(APIError):
    """415: the body is not JSON."""


class IdempotencyKeyReused(APIError):
    """422: the Idempotency-Key was used earlier with a different request."""


class RateLimited(APIError):
    """429: your rate limit is exhausted; ``retry_after`` says for how many seconds."""


class ServerError(APIError):
    """5xx: the API could not do what was asked."""


class ChargerError(ServerError):
    """502, outcome FAILED: the charger answered the command with an OCPP error."""


class ServiceUnavailable(ServerError):
    """503: a service behind the API (storage, the charger's csms node) is unavailable;
    nothing was done. Safe to retry."""


class CommandTimeout(ServerError):
    """504, outcome TIMEOUT: the charger did not answer in time. It may still act on the
    command: check ``get_command(command_id)`` or the event feed before retrying."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    422: IdempotencyKeyReused,
    429: RateLimited,
    502: ChargerError,
    503: ServiceUnavailable,
    504: CommandTimeout,
}
_CONFLICT_BY_OUTCOME: dict[str, type[Conflict]] = {
    "EVSE_OFFLINE": ChargerOffline,
    "NOT_SUPPORTED": CommandNotApplicable,
}


def error_class(status: int, outcome: str | None, idempotent_request: bool) -> type[APIError]:
    """The exception class for an error answer."""
    if status == 409:
        if outcome in _CONFLICT_BY_OUTCOME:
            return _CONFLICT_BY_OUTCOME[outcome]
        return IdempotencyInProgress if idempotent_request else Conflict
    if status == 422:
        return IdempotencyKeyReused if idempotent_request else APIError
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return ServerError if status >= 500 else APIError


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (the API sends delta-seconds); None if absent or not a number."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def from_response(
    status: int,
    body: Any,
    headers: Mapping[str, str],
    *,
    idempotent_request: bool = False,
) -> APIError:
    """The exception for an error answer; tolerant of a body that is not the standard one."""
    fields: dict[str, Any] = body if isinstance(body, dict) else {}
    message = fields.get("message")
    if not isinstance(message, str):
        message = body if isinstance(body, str) and body else "no error message"
    outcome = fields.get("outcome") if isinstance(fields.get("outcome"), str) else None
    command_id = fields.get("commandId") if isinstance(fields.get("commandId"), str) else None
    cls = error_class(status, outcome, idempotent_request)
    return cls(
        status,
        message,
        error=str(fields.get("error", "")),
        path=str(fields.get("path", "")),
        timestamp=str(fields.get("timestamp", "")),
        request_id=headers.get("x-request-id"),
        command_id=command_id,
        outcome=outcome,
        retry_after=parse_retry_after(headers.get("retry-after")),
        body=fields,
    )
