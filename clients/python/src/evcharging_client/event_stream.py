# Generated from async_event_stream.py by `python clients/python/scripts/unasync.py`: do not edit.
# Change async_event_stream.py and run that command; a test fails while this file differs.
"""The live event feed, synchronously: :class:`EventStream`, which reconnects by itself."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from types import TracebackType

import httpx

from evcharging_client import _http, errors
from evcharging_client import models as m
from evcharging_client import operations as op
from evcharging_client._transport import Transport
from evcharging_client.retry import reconnect_delay
from evcharging_client.sse import SseParser, to_event


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
        transport: Transport,
        types: Iterable[str] | None,
        last_event_id: str | None,
        max_reconnects: int | None,
        *,
        path: str = op.EVENTS_PATH,
        charger_ids: Iterable[str] | None = None,
    ) -> None:
        self._transport = transport
        self._path = path  # the partner's feed, or the admin feed of every charger
        self._params = op.events_params(types)
        if charger_ids is not None:
            self._params["chargerIds"] = ",".join(charger_ids)
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
                self._path,
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
