# Generated from async_client.py by `python clients/python/scripts/unasync.py`: do not edit.
# Change async_client.py and run that command; a test fails while this file differs.
"""The synchronous client: :class:`EVChargingClient` for partners,
:class:`EVChargingAdmin` for operators."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from types import TracebackType
from typing import Literal, Protocol, TypeVar, overload

import httpx

from evcharging_client import _http, errors
from evcharging_client import models as m
from evcharging_client import operations as op
from evcharging_client.retry import RetryPolicy, reconnect_delay, wait_before_retry
from evcharging_client.sse import SseParser, to_event

T = TypeVar("T")
P = TypeVar("P")
I = TypeVar("I")  # noqa: E741


class _Sleep(Protocol):
    """Waits between retries and before reconnecting; tests swap it to skip the wait."""

    def __call__(self, seconds: float, /) -> None: ...


class _Transport:
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


class EventStream:
    """The live event feed: iterate it for events, forever; it reconnects by itself.

    After a dropped connection it reconnects with ``Last-Event-ID``, so nothing in between is
    lost (within the feed's retention, 10 minutes by default; beyond it a
    :class:`~evcharging_client.models.GapEvent` comes first). Errors a reconnection cannot fix
    (401, 403, 400) are raised. Use it as a context manager (``with``), or end it with
    ``stream.close()``.
    """

    def __init__(
        self,
        transport: _Transport,
        types: Iterable[str] | None,
        last_event_id: str | None,
        max_reconnects: int | None,
    ) -> None:
        self._transport = transport
        self._params = op.events_params(types)
        self.last_event_id = last_event_id
        """The id of the last event yielded: persist it to resume from there later."""
        self.max_reconnects = max_reconnects
        self._response: httpx.Response | None = None
        self._lines: Iterator[str] | None = None
        self._parser = SseParser()
        self._failures = 0
        self._closed = False

    def open(self) -> EventStream:
        """Connect now (iterating connects otherwise): what happens after this is not missed."""
        if self._response is None and not self._closed:
            self._connect()
        return self

    def close(self) -> None:
        """Stop: close the connection; iteration ends."""
        self._closed = True
        self._drop()

    def __enter__(self) -> EventStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __iter__(self) -> Iterator[m.Event]:
        return self

    def __next__(self) -> m.Event:
        while not self._closed:
            if self._lines is None:
                self._connect()
                continue
            try:
                line = next(self._lines)
            except StopIteration:
                self._reconnect_after(None, None)
                continue
            except (httpx.TransportError, httpx.StreamError):
                if self._closed:
                    break  # closed while reading
                self._failures += 1
                self._reconnect_after(None, None)
                continue
            raw = self._parser.feed(line)
            if raw is not None:
                self.last_event_id = raw.id or self.last_event_id
                return to_event(raw)
        raise StopIteration

    def _connect(self) -> None:
        while not self._closed:
            headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
            if self.last_event_id:
                headers["Last-Event-ID"] = self.last_event_id
            http = self._transport._http
            request = http.build_request(
                "GET",
                op.EVENTS_PATH,
                params=self._params or None,
                headers=headers,
                timeout=httpx.Timeout(_http.EVENTS_IDLE_TIMEOUT, connect=5.0),
            )
            try:
                response = http.send(request, stream=True)
            except httpx.TransportError:
                self._failures += 1
                self._reconnect_after(None, None)
                continue
            if response.status_code == 200:
                self._response = response
                self._lines = response.iter_lines()
                self._parser = SseParser(retry_ms=self._parser.retry_ms)
                self._failures = 0
                return
            response.read()
            response.close()
            error = _http.error_of(None, response)
            self._failures += 1
            self._reconnect_after(response.status_code, error.retry_after, error)

    def _reconnect_after(
        self,
        status: int | None,
        retry_after: float | None,
        error: errors.APIError | None = None,
    ) -> None:
        self._drop()
        if self._closed:
            return
        if self.max_reconnects is not None and self._failures > self.max_reconnects:
            self._closed = True
            raise error or errors.TransportError("the event feed could not be reconnected")
        delay = reconnect_delay(self._failures, status, retry_after, self._parser.retry_ms)
        if delay is None:
            self._closed = True
            raise error or errors.TransportError("the event feed could not be reconnected")
        self._transport._sleep(delay)

    def _drop(self) -> None:
        if self._response is not None:
            self._response.close()
        self._response = None
        self._lines = None


class EVChargingClient:
    """The partner API, synchronously.

    >>> with EVChargingClient("evcs_…", base_url="https://api.example.com") as client:
    ...     charger = client.get_charger_status("CP-0001")
    >>> charger.status
    'AVAILABLE'

    Retries 429 and 503 (honouring ``Retry-After``) and lost connections where a repeat is
    harmless, within ``retry`` (:class:`~evcharging_client.retry.RetryPolicy`). Commands carry
    an ``Idempotency-Key`` (generated unless you give one), so a retried ``on`` can never
    start a charger twice. Use it as a context manager (``with``), or end it with
    ``client.close()``.
    """

    def __init__(
        self,
        api_key: str,
        base_url: str = "http://127.0.0.1:8080",
        *,
        timeout: float | httpx.Timeout | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """``base_url``: the gateway's URL (with or without ``/api/v1``). ``transport``: an
        httpx transport, e.g. for proxies or tests."""
        self._t = _Transport(base_url, _http.partner_headers(api_key), timeout, retry, transport)

    def close(self) -> None:
        """Close the connections."""
        self._t.close()

    def __enter__(self) -> EVChargingClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # status -------------------------------------------------------------------------------

    def get_charger_status(self, charger_id: str) -> m.Charger:
        """A charger's status, connectors, meter and timestamps. :class:`NotFound` if it is
        unknown or not yours."""
        return self._t.send(op.get_charger_status(charger_id))

    def list_chargers(
        self, *, status: Iterable[m.ChargerStatus] | None = None, page_size: int | None = None
    ) -> Iterator[m.Charger]:
        """All your chargers in id order, fetching page after page as you iterate.
        ``status``: only chargers in these statuses."""
        statuses = list(status) if status is not None else None
        return self._t.pages(
            lambda cursor: op.list_chargers(cursor, page_size, statuses),
            lambda page: page.chargers,
            lambda page: page.next_cursor,
        )

    def batch_status(self, charger_ids: Sequence[str]) -> m.BatchStatus:
        """The status of up to 1000 chargers in one request; ids that are unknown or not
        yours are listed in ``not_found``."""
        return self._t.send(op.batch_status(charger_ids))

    # commands -----------------------------------------------------------------------------

    @overload
    def control(
        self,
        charger_id: str,
        action: op.Action,
        *,
        connector_id: int | None = None,
        id_tag: str | None = None,
        wait: Literal[True] = True,
        idempotency_key: str | None = None,
    ) -> m.CommandResult: ...

    @overload
    def control(
        self,
        charger_id: str,
        action: op.Action,
        *,
        connector_id: int | None = None,
        id_tag: str | None = None,
        wait: Literal[False],
        idempotency_key: str | None = None,
    ) -> m.CommandAccepted: ...

    def control(
        self,
        charger_id: str,
        action: op.Action,
        *,
        connector_id: int | None = None,
        id_tag: str | None = None,
        wait: bool = True,
        idempotency_key: str | None = None,
    ) -> m.CommandResult | m.CommandAccepted:
        """Switch a charger ``"on"`` (start a session) or ``"off"`` (stop the running one).

        With ``wait=True`` the answer is the charger's (``Accepted`` or ``Rejected``); other
        outcomes raise :class:`ChargerOffline`, :class:`CommandNotApplicable`,
        :class:`CommandTimeout`, :class:`ChargerError` or :class:`ServiceUnavailable`. With
        ``wait=False`` the answer comes at once (PENDING) and the outcome follows on
        :meth:`events` and at :meth:`get_command`. ``idempotency_key``: your id for this
        command (default: a new UUID); the same key within 24 h never sends it twice.
        """
        return self._t.send(
            op.control(charger_id, action, connector_id, id_tag, wait, idempotency_key)
        )

    @overload
    def set_status(
        self,
        charger_id: str,
        status: op.Availability,
        *,
        connector_id: int | None = None,
        wait: Literal[True] = True,
        idempotency_key: str | None = None,
    ) -> m.CommandResult: ...

    @overload
    def set_status(
        self,
        charger_id: str,
        status: op.Availability,
        *,
        connector_id: int | None = None,
        wait: Literal[False],
        idempotency_key: str | None = None,
    ) -> m.CommandAccepted: ...

    def set_status(
        self,
        charger_id: str,
        status: op.Availability,
        *,
        connector_id: int | None = None,
        wait: bool = True,
        idempotency_key: str | None = None,
    ) -> m.CommandResult | m.CommandAccepted:
        """Make a charger (or one connector) ``"AVAILABLE"`` or take it out of service
        (``"INOPERATIVE"``): OCPP ChangeAvailability. Outcomes as for :meth:`control`."""
        return self._t.send(op.set_status(charger_id, status, connector_id, wait, idempotency_key))

    def batch_control(
        self,
        charger_ids: Sequence[str],
        action: op.Action,
        *,
        connector_id: int | None = None,
        id_tag: str | None = None,
        wait: bool = True,
        idempotency_key: str | None = None,
    ) -> m.BatchControlResult:
        """The same on/off command to up to 1000 chargers at once; each one's outcome is in
        ``results`` (ids not yours: NOT_FOUND). One request for rate limiting."""
        return self._t.send(
            op.batch_control(charger_ids, action, connector_id, id_tag, wait, idempotency_key)
        )

    def get_command(self, command_id: str) -> m.Command:
        """A command's state (PENDING until known) and the charger's answer."""
        return self._t.send(op.get_command(command_id))

    # history ------------------------------------------------------------------------------

    def meter_values(
        self,
        charger_id: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        measurand: str | None = None,
        page_size: int | None = None,
    ) -> Iterator[m.MeterValue]:
        """A charger's meter values from ``start`` (default: 24 h before ``end``) to ``end``
        (default: now), oldest first, page after page. Datetimes must be timezone-aware."""
        return self._t.pages(
            lambda cursor: op.meter_values(charger_id, cursor, start, end, measurand, page_size),
            lambda page: page.meter_values,
            lambda page: page.next_cursor,
        )

    def sessions(
        self,
        charger_id: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        page_size: int | None = None,
    ) -> Iterator[m.Session]:
        """A charger's charging sessions that started in the window, newest first."""
        return self._t.pages(
            lambda cursor: op.sessions(charger_id, cursor, start, end, page_size),
            lambda page: page.sessions,
            lambda page: page.next_cursor,
        )

    # live events --------------------------------------------------------------------------

    def events(
        self,
        *,
        types: Iterable[Literal["status", "connection", "session", "command"]] | None = None,
        last_event_id: str | None = None,
        max_reconnects: int | None = None,
    ) -> EventStream:
        """The live feed of your chargers' changes: an :class:`EventStream` of
        :class:`~evcharging_client.models.StatusEvent`, ``ConnectionEvent``, ``SessionEvent``,
        ``CommandEvent`` (and ``GapEvent``). It reconnects by itself with ``Last-Event-ID``;
        ``last_event_id`` resumes after an event from an earlier run. ``max_reconnects``:
        consecutive failed reconnections before giving up (default: never give up)."""
        return EventStream(self._t, types, last_event_id, max_reconnects)

    # operations ---------------------------------------------------------------------------

    def health(self) -> m.Health:
        """Liveness of the gateway (needs no key)."""
        return self._t.send(op.health())

    def ready(self) -> m.Ready:
        """Readiness: :class:`ServiceUnavailable` while Redis or PostgreSQL does not answer."""
        return self._t.send(op.ready())


class EVChargingAdmin:
    """The operator's admin API, synchronously: partners, API keys, chargers, audit log.

    ``admin_token`` is the gateway's ``EVCS_ADMIN_TOKEN``; ``actor`` names you in the audit log.
    """

    def __init__(
        self,
        admin_token: str,
        base_url: str = "http://127.0.0.1:8080",
        *,
        actor: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._t = _Transport(
            base_url, _http.admin_headers(admin_token, actor), timeout, retry, transport
        )

    def close(self) -> None:
        """Close the connections."""
        self._t.close()

    def __enter__(self) -> EVChargingAdmin:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def create_partner(
        self,
        name: str,
        *,
        partner_id: str | None = None,
        charger_quota: int | None = None,
        rate_limit_minute: int | None = None,
        rate_limit_hour: int | None = None,
    ) -> m.Partner:
        """Create a partner; without limits it gets the gateway's defaults."""
        return self._t.send(
            op.admin_create_partner(
                name, partner_id, charger_quota, rate_limit_minute, rate_limit_hour
            )
        )

    def list_partners(
        self, *, status: Literal["active", "suspended"] | None = None, page_size: int | None = None
    ) -> Iterator[m.Partner]:
        """Every partner, page after page."""
        return self._t.pages(
            lambda cursor: op.admin_list_partners(cursor, status, page_size),
            lambda page: page.partners,
            lambda page: page.next_cursor,
        )

    def get_partner(self, partner_id: str) -> m.Partner:
        """A partner."""
        return self._t.send(op.admin_get_partner(partner_id))

    def update_partner(
        self,
        partner_id: str,
        *,
        name: str = op.UNSET,
        charger_quota: int | None = op.UNSET,
        rate_limit_minute: int | None = op.UNSET,
        rate_limit_hour: int | None = op.UNSET,
    ) -> m.Partner:
        """Change what is given; None resets a quota (no cap) or a limit (the default)."""
        return self._t.send(
            op.admin_update_partner(
                partner_id,
                op.given(
                    name=name,
                    chargerQuota=charger_quota,
                    rateLimitMinute=rate_limit_minute,
                    rateLimitHour=rate_limit_hour,
                ),
            )
        )

    def suspend_partner(self, partner_id: str) -> m.Partner:
        """Suspend a partner: its keys get 403 on every gateway at once."""
        return self._t.send(op.admin_suspend_partner(partner_id))

    def reactivate_partner(self, partner_id: str) -> m.Partner:
        """Reactivate a suspended partner."""
        return self._t.send(op.admin_reactivate_partner(partner_id))

    def delete_partner(self, partner_id: str) -> m.PartnerDeleted:
        """Delete a partner: its keys are revoked and its chargers unassigned."""
        return self._t.send(op.admin_delete_partner(partner_id))

    def issue_key(
        self, partner_id: str, *, name: str | None = None, expires_at: datetime | None = None
    ) -> m.IssuedKey:
        """A new API key for a partner; ``key`` is shown this once."""
        return self._t.send(op.admin_issue_key(partner_id, name, expires_at))

    def list_partner_keys(self, partner_id: str) -> m.KeyList:
        """A partner's API keys (prefixes only), newest first."""
        return self._t.send(op.admin_list_partner_keys(partner_id))

    def find_keys(self, prefix: str) -> m.KeyList:
        """API keys starting with ``prefix`` (e.g. a leaked key a scanner reported)."""
        return self._t.send(op.admin_find_keys(prefix))

    def rotate_key(
        self, key_id: str, *, overlap_seconds: int | None = None, expires_at: datetime | None = None
    ) -> m.IssuedKey:
        """A new key replacing ``key_id``, which keeps working for ``overlap_seconds``."""
        return self._t.send(op.admin_rotate_key(key_id, overlap_seconds, expires_at))

    def revoke_key(self, key_id: str) -> m.ApiKey:
        """Revoke a key: 401 on every gateway at once."""
        return self._t.send(op.admin_revoke_key(key_id))

    def register_charger(
        self,
        charger_id: str,
        protocol: Literal["ocpp1.6", "ocpp2.0.1"],
        *,
        partner_id: str | None = None,
        password: str | None = None,
        no_password: bool = False,
    ) -> m.RegisteredCharger:
        """Register a charger (and assign it); a generated password is answered once."""
        return self._t.send(
            op.admin_register_charger(charger_id, protocol, partner_id, password, no_password)
        )

    def list_chargers(
        self,
        *,
        partner_id: str | None = None,
        include_removed: bool = False,
        page_size: int | None = None,
    ) -> Iterator[m.AdminCharger]:
        """Registered chargers, page after page."""
        return self._t.pages(
            lambda cursor: op.admin_list_chargers(cursor, partner_id, include_removed, page_size),
            lambda page: page.chargers,
            lambda page: page.next_cursor,
        )

    def get_charger(self, charger_id: str) -> m.AdminCharger:
        """A registered charger."""
        return self._t.send(op.admin_get_charger(charger_id))

    def decommission_charger(self, charger_id: str) -> m.AdminCharger:
        """Decommission a charger: REMOVED for its partner, refused by csms from now on."""
        return self._t.send(op.admin_decommission_charger(charger_id))

    def assign_charger(self, charger_id: str, partner_id: str) -> m.AdminCharger:
        """Assign a charger to a partner (within its quota)."""
        return self._t.send(op.admin_assign_charger(charger_id, partner_id))

    def unassign_charger(self, charger_id: str) -> m.AdminCharger:
        """Unassign a charger from its partner."""
        return self._t.send(op.admin_unassign_charger(charger_id))

    def audit_log(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        target: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        page_size: int | None = None,
    ) -> Iterator[m.AuditEntry]:
        """Audit log entries, newest first, page after page."""
        return self._t.pages(
            lambda cursor: op.admin_audit_log(cursor, actor, action, target, start, end, page_size),
            lambda page: page.entries,
            lambda page: page.next_cursor,
        )
