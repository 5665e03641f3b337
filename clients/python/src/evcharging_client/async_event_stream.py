"""The live event feed, asynchronously: :class:`AsyncEventStream`, which reconnects by itself."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from types import TracebackType

import httpx

from evcharging_client import _http, errors
from evcharging_client import models as m
from evcharging_client import operations as op
from evcharging_client._async_transport import AsyncTransport
from evcharging_client.retry import reconnect_delay
from evcharging_client.sse import SseParser, to_event


class AsyncEventStream:
    """The live event feed: iterate it for events, forever; it reconnects by itself.

    After a dropped connection it reconnects with ``Last-Event-ID``, so nothing in between is
    lost (within the feed's retention, 10 minutes by default; beyond it a
    :class:`~evcharging_client.models.GapEvent` comes first). Errors a reconnection cannot fix
    (401, 403, 400) are raised. Use it as a context manager (``async with``), or end it with
    ``await stream.close()``.
    """

    def __init__(
        self,
        transport: AsyncTransport,
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
        self._lines: AsyncIterator[str] | None = None
        self._parser = SseParser()
        self._failures = 0
        self._closed = False

    async def open(self) -> AsyncEventStream:
        """Connect now (iterating connects otherwise): what happens after this is not missed."""
        if self._response is None and not self._closed:
            await self._connect()
        return self

    async def close(self) -> None:
        """Stop: close the connection; iteration ends."""
        self._closed = True
        await self._drop()

    async def __aenter__(self) -> AsyncEventStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __aiter__(self) -> AsyncIterator[m.Event]:
        return self

    async def __anext__(self) -> m.Event:
        while not self._closed:
            if self._lines is None:
                await self._connect()
                continue
            try:
                line = await anext(self._lines)
            except StopAsyncIteration:
                await self._reconnect_after(None, None)
                continue
            except (httpx.TransportError, httpx.StreamError):
                if self._closed:
                    break  # closed while reading
                self._failures += 1
                await self._reconnect_after(None, None)
                continue
            raw = self._parser.feed(line)
            if raw is not None:
                self.last_event_id = raw.id or self.last_event_id
                return to_event(raw)
        raise StopAsyncIteration

    async def _connect(self) -> None:
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
                response = await http.send(request, stream=True)
            except httpx.TransportError:
                self._failures += 1
                await self._reconnect_after(None, None)
                continue
            if response.status_code == 200:
                self._response = response
                self._lines = response.aiter_lines()
                self._parser = SseParser(retry_ms=self._parser.retry_ms)
                self._failures = 0
                return
            await response.aread()
            await response.aclose()
            error = _http.error_of(None, response)
            self._failures += 1
            await self._reconnect_after(response.status_code, error.retry_after, error)

    async def _reconnect_after(
        self,
        status: int | None,
        retry_after: float | None,
        error: errors.APIError | None = None,
    ) -> None:
        await self._drop()
        if self._closed:
            return
        if self.max_reconnects is not None and self._failures > self.max_reconnects:
            self._closed = True
            raise error or errors.TransportError("the event feed could not be reconnected")
        delay = reconnect_delay(self._failures, status, retry_after, self._parser.retry_ms)
        if delay is None:
            self._closed = True
            raise error or errors.TransportError("the event feed could not be reconnected")
        await self._transport._sleep(delay)

    async def _drop(self) -> None:
        if self._response is not None:
            await self._response.aclose()
        self._response = None
        self._lines = None
