# Generated from async_client.py by `python clients/python/scripts/unasync.py`: do not edit.
# Change async_client.py and run that command; a test fails while this file differs.
"""The partner API, synchronously: :class:`EVChargingClient`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from types import TracebackType
from typing import Literal, overload

import httpx

from evcharging_client import _http
from evcharging_client import models as m
from evcharging_client import operations as op
from evcharging_client._transport import Transport
from evcharging_client.admin import EVChargingAdmin
from evcharging_client.event_stream import EventStream
from evcharging_client.retry import RetryPolicy

# The admin client and the event stream were defined here before they got modules of their
# own: users may still import them from here.
__all__ = ["EVChargingAdmin", "EVChargingClient", "EventStream"]


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
        self._t = Transport(base_url, _http.partner_headers(api_key), timeout, retry, transport)

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

    @overload
    def unlock_connector(
        self,
        charger_id: str,
        connector_id: int,
        *,
        evse_connector_id: int | None = None,
        wait: Literal[True] = True,
        idempotency_key: str | None = None,
    ) -> m.CommandResult: ...

    @overload
    def unlock_connector(
        self,
        charger_id: str,
        connector_id: int,
        *,
        evse_connector_id: int | None = None,
        wait: Literal[False],
        idempotency_key: str | None = None,
    ) -> m.CommandAccepted: ...

    def unlock_connector(
        self,
        charger_id: str,
        connector_id: int,
        *,
        evse_connector_id: int | None = None,
        wait: bool = True,
        idempotency_key: str | None = None,
    ) -> m.CommandResult | m.CommandAccepted:
        """Unlock a connector, for a cable the driver cannot pull out: OCPP UnlockConnector.
        ``connector_id``: the connector (1.6) or the EVSE (2.0.1); ``evse_connector_id``: the
        connector within that EVSE (2.0.1 only, default 1). The charger's own answer is in
        ``charger_response["status"]`` (e.g. ``Unlocked``, ``UnlockFailed``). Outcomes as for
        :meth:`control`."""
        return self._t.send(
            op.unlock_connector(charger_id, connector_id, evse_connector_id, wait, idempotency_key)
        )

    @overload
    def reset(
        self,
        charger_id: str,
        type: op.ResetType = "Soft",
        *,
        wait: Literal[True] = True,
        idempotency_key: str | None = None,
    ) -> m.CommandResult: ...

    @overload
    def reset(
        self,
        charger_id: str,
        type: op.ResetType = "Soft",
        *,
        wait: Literal[False],
        idempotency_key: str | None = None,
    ) -> m.CommandAccepted: ...

    def reset(
        self,
        charger_id: str,
        type: op.ResetType = "Soft",
        *,
        wait: bool = True,
        idempotency_key: str | None = None,
    ) -> m.CommandResult | m.CommandAccepted:
        """Restart a charger: OCPP Reset. ``"Soft"`` waits until no session runs (2.0.1
        OnIdle); ``"Hard"`` restarts at once and ends running sessions (2.0.1 Immediate). The
        charger goes offline and comes back with a new boot. Outcomes as for :meth:`control`."""
        return self._t.send(op.reset(charger_id, type, wait, idempotency_key))

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

    # tokens -------------------------------------------------------------------------------

    def put_token(
        self,
        token_id: str,
        status: m.TokenStatus = "Accepted",
        *,
        type: str | None = None,
        expires_at: datetime | None = None,
        group_id: str | None = None,
    ) -> m.Token:
        """Register one of your drivers' tokens, or replace it as a whole (what is left out
        takes its default)."""
        fields = op.given(
            status=status,
            type=type or op.UNSET,
            expiresAt=expires_at or op.UNSET,
            groupId=group_id or op.UNSET,
        )
        return self._t.send(op.put_token(token_id, fields))

    def get_token(self, token_id: str) -> m.Token:
        """One of your tokens."""
        return self._t.send(op.get_token(token_id))

    def update_token(
        self,
        token_id: str,
        *,
        status: m.TokenStatus = op.UNSET,
        type: str = op.UNSET,
        expires_at: datetime | None = op.UNSET,
        group_id: str | None = op.UNSET,
    ) -> m.Token:
        """Change what is given (e.g. block a lost card); None clears an expiry or a group."""
        return self._t.send(
            op.update_token(
                token_id,
                op.given(status=status, type=type, expiresAt=expires_at, groupId=group_id),
            )
        )

    def list_tokens(
        self,
        *,
        status: m.TokenStatus | None = None,
        group_id: str | None = None,
        page_size: int | None = None,
    ) -> Iterator[m.Token]:
        """Your tokens in id order, page after page."""
        return self._t.pages(
            lambda cursor: op.list_tokens(cursor, status, group_id, page_size),
            lambda page: page.tokens,
            lambda page: page.next_cursor,
        )

    def token_sessions(
        self,
        token_id: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        page_size: int | None = None,
    ) -> Iterator[m.Session]:
        """The sessions one of your tokens started in the window, on any charger, newest first."""
        return self._t.pages(
            lambda cursor: op.token_sessions(token_id, cursor, start, end, page_size),
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
