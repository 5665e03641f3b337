"""The Python client against a real gateway, csms node and simulated chargers: both the
synchronous client (run in a thread, since the gateway serves on this event loop) and the
asynchronous one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from evcharging_client import (
    APIError,
    AsyncEVChargingAdmin,
    AsyncEVChargingClient,
    ChargerOffline,
    CommandAccepted,
    CommandEvent,
    CommandResult,
    EVChargingAdmin,
    EVChargingClient,
    IdempotencyKeyReused,
    NotFound,
    RateLimited,
    RetryPolicy,
    StatusEvent,
    Unauthorized,
)
from evcharging_client import models as m

from tests.clients.conftest import ADMIN_TOKEN, Live, eventually, sent


class Sdk:
    """One client, sync or async, called the same way from the tests (the admin client with
    ``admin=True``, ``api_key`` then being the admin token)."""

    def __init__(
        self, kind: str, api_key: str, url: str, *, admin: bool = False, **options: Any
    ) -> None:
        self.kind = kind
        self.sync: EVChargingClient | EVChargingAdmin | None = None
        self.aio: AsyncEVChargingClient | AsyncEVChargingAdmin | None = None
        if kind == "sync":
            self.sync = (EVChargingAdmin if admin else EVChargingClient)(api_key, url, **options)
        else:
            self.aio = (AsyncEVChargingAdmin if admin else AsyncEVChargingClient)(
                api_key, url, **options
            )

    async def __call__(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if self.sync is not None:
            return await asyncio.to_thread(getattr(self.sync, method), *args, **kwargs)
        assert self.aio is not None
        return await getattr(self.aio, method)(*args, **kwargs)

    async def collect(self, method: str, *args: Any, **kwargs: Any) -> list[Any]:
        """Every item of a paginated call."""
        if self.sync is not None:
            return await asyncio.to_thread(
                lambda: list(getattr(self.sync, method)(*args, **kwargs))
            )
        assert self.aio is not None
        return [item async for item in getattr(self.aio, method)(*args, **kwargs)]

    async def close(self) -> None:
        if self.sync is not None:
            self.sync.close()
        if self.aio is not None:
            await self.aio.close()


@pytest.fixture(params=["sync", "async"])
async def sdk(request: pytest.FixtureRequest, live: Live) -> AsyncIterator[Sdk]:
    client = Sdk(request.param, live.partner.key, live.api_url)
    yield client
    await client.close()


async def _status_is(sdk: Sdk | AsyncEVChargingClient, charger_id: str, expected: str) -> None:
    async def probe() -> bool:
        if isinstance(sdk, AsyncEVChargingClient):
            charger = await sdk.get_charger_status(charger_id)
        else:
            charger = await sdk("get_charger_status", charger_id)
        return bool(charger.status == expected)

    await eventually(probe)


async def test_status_on_charging_off_and_history(sdk: Sdk, live: Live) -> None:
    protocol = "ocpp1.6" if sdk.kind == "sync" else "ocpp2.0.1"
    cp = live.new_id("PY")
    await live.plug_in(cp, protocol)
    await _status_is(sdk, cp, "AVAILABLE")
    charger = await sdk("get_charger_status", cp)
    assert charger.charger_id == cp and charger.online and charger.protocol == protocol
    assert [c.status for c in charger.connectors] == ["AVAILABLE"]

    started = await sdk("control", cp, "on")
    assert isinstance(started, CommandResult)
    assert (started.status, started.outcome, started.replayed) == ("Accepted", "ACCEPTED", False)
    await _status_is(sdk, cp, "CHARGING")
    command = await sdk("get_command", started.command_id)
    assert command.state == "ACCEPTED" and command.charger_id == cp
    first = (await sdk("get_charger_status", cp)).meter_kwh or 0

    async def meter_rose() -> bool:
        return ((await sdk("get_charger_status", cp)).meter_kwh or 0) > first

    await eventually(meter_rose)

    stopped = await sdk("control", cp, "off")
    assert stopped.status == "Accepted"
    await _status_is(sdk, cp, "AVAILABLE")

    # the recorder wrote the session and its meter values; the iterators page through them
    async def recorded() -> bool:
        sessions = await sdk.collect("sessions", cp, page_size=1)
        return len(sessions) == 1 and not sessions[0].active

    await eventually(recorded)
    [session] = await sdk.collect("sessions", cp)
    assert session.energy_wh is not None and session.energy_wh > 0
    values = await sdk.collect("meter_values", cp, page_size=1)
    assert len(values) >= 2  # more than one page
    assert [v.received_at for v in values] == sorted(v.received_at for v in values)

    listed = await sdk.collect("list_chargers", page_size=1)
    assert cp in [c.charger_id for c in listed]
    batch = await sdk("batch_status", [cp, "NOPE-" + cp])
    assert [c.charger_id for c in batch.chargers] == [cp]
    assert batch.not_found == ["NOPE-" + cp]


async def test_availability_and_async_commands(sdk: Sdk, live: Live) -> None:
    cp = live.new_id("PYA")
    await live.plug_in(cp)
    await _status_is(sdk, cp, "AVAILABLE")
    result = await sdk("set_status", cp, "INOPERATIVE")
    assert result.status == "Accepted" and result.action == "availability"
    await _status_is(sdk, cp, "INOPERATIVE")
    accepted = await sdk("set_status", cp, "AVAILABLE", wait=False)
    assert isinstance(accepted, CommandAccepted) and accepted.state == "PENDING"

    async def done() -> bool:
        return bool((await sdk("get_command", accepted.command_id)).state == "ACCEPTED")

    await eventually(done)
    await _status_is(sdk, cp, "AVAILABLE")
    batch = await sdk("batch_control", [cp, "NOPE-" + cp], "on")
    assert [(r.charger_id, r.state) for r in batch.results] == [
        (cp, "ACCEPTED"),
        ("NOPE-" + cp, "NOT_FOUND"),
    ]
    assert batch.summary == {"ACCEPTED": 1, "NOT_FOUND": 1}


async def test_unlock_and_reset(sdk: Sdk, live: Live) -> None:
    protocol = "ocpp1.6" if sdk.kind == "sync" else "ocpp2.0.1"
    cp = live.new_id("PYU")
    charger = await live.plug_in(cp, protocol)
    await _status_is(sdk, cp, "AVAILABLE")
    unlocked = await sdk("unlock_connector", cp, 1)
    assert isinstance(unlocked, CommandResult)
    assert (unlocked.action, unlocked.status, unlocked.ocpp_action) == (
        "unlock",
        "Accepted",
        "UnlockConnector",
    )
    assert unlocked.charger_response == {"status": "Unlocked"}
    if protocol == "ocpp2.0.1":
        # an EVSE the charger lacks: its answer (UnknownConnector) is a result, not an error
        refused = await sdk("unlock_connector", cp, 2)
        assert (refused.status, refused.outcome) == ("Rejected", "REJECTED")
        assert refused.charger_response == {"status": "UnknownConnector"}

    # asynchronously, under one Idempotency-Key given twice: one Reset
    key = f"reset-{cp}"
    accepted = await sdk("reset", cp, "Hard", wait=False, idempotency_key=key)
    assert isinstance(accepted, CommandAccepted)
    assert (accepted.action, accepted.state, accepted.replayed) == ("reset", "PENDING", False)
    again = await sdk("reset", cp, "Hard", wait=False, idempotency_key=key)
    assert again.command_id == accepted.command_id and again.replayed

    async def done() -> bool:
        return bool((await sdk("get_command", accepted.command_id)).state == "ACCEPTED")

    await eventually(done)
    command = await sdk("get_command", accepted.command_id)
    assert (command.ocpp_action, command.mode) == ("Reset", "async")
    assert sent(charger, "Reset") == 1
    with pytest.raises(IdempotencyKeyReused):
        await sdk("reset", cp, "Soft", idempotency_key=key)
    # the charger restarts and comes back
    await eventually(lambda: _online(sdk, cp))


async def _online(sdk: Sdk, charger_id: str) -> bool:
    charger = await sdk("get_charger_status", charger_id)
    return bool(charger.online and charger.status == "AVAILABLE")


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_operator_commands(kind: str, live: Live) -> None:
    cp = live.new_id("PYO")
    charger = await live.plug_in(cp)
    admin = Sdk(kind, ADMIN_TOKEN, live.url, admin=True, actor="alice")
    partner = Sdk(kind, live.partner.key, live.url)
    try:
        await _status_is(partner, cp, "AVAILABLE")
        result = await admin("send_command", cp, "ClearCache")
        assert isinstance(result, m.OperatorCommandResult)
        assert (result.action, result.protocol, result.outcome) == (
            "ClearCache",
            "ocpp1.6",
            "ACCEPTED",
        )
        assert result.charger_response == {"status": "Accepted"}
        accepted = await admin("send_command", cp, "ClearCache", {}, wait=False)
        assert isinstance(accepted, m.OperatorCommandAccepted)
        assert accepted.state == "PENDING"
        assert accepted.location == f"/api/v1/admin/commands/{accepted.command_id}"

        async def done() -> bool:
            return bool((await admin("get_command", accepted.command_id)).state == "ACCEPTED")

        await eventually(done)
        assert sent(charger, "ClearCache") == 2

        # a payload that breaks the schema: a plain 422, nothing sent
        with pytest.raises(APIError) as invalid:
            await admin("send_command", cp, "Reset", {"type": "Sometimes"})
        assert type(invalid.value) is APIError and invalid.value.status == 422
        assert sent(charger, "Reset") == 0
        with pytest.raises(NotFound):
            await admin("send_command", live.new_id("NOPE"), "ClearCache")

        # any partner's command, by id
        started = await partner("control", cp, "on")
        command = await admin("get_command", started.command_id)
        assert (command.charger_id, command.action, command.state) == (cp, "on", "ACCEPTED")
    finally:
        await admin.close()
        await partner.close()


async def test_unknown_charger_other_partners_charger_and_bad_key(sdk: Sdk, live: Live) -> None:
    other = await live.make_partner()
    theirs = live.new_id("THEIRS")
    await live.register(theirs, partner_id=other.id)
    for charger_id in (live.new_id("NOPE"), theirs):
        with pytest.raises(NotFound) as caught:
            await sdk("get_charger_status", charger_id)
        error = caught.value
        assert (error.status, error.error) == (404, "Not Found")
        assert error.path == f"/api/v1/chargers/{charger_id}/status"
        assert error.request_id and error.message and error.timestamp.endswith("Z")
    with pytest.raises(NotFound):
        await sdk("control", theirs, "on")

    offline = live.new_id("OFF")
    await live.register(offline)
    with pytest.raises(ChargerOffline) as refused:
        await sdk("control", offline, "on")
    assert refused.value.status == 409 and refused.value.outcome == "EVSE_OFFLINE"
    assert refused.value.command_id is not None

    bad = Sdk(sdk.kind, "evcs_not-a-real-key", live.url)
    try:
        with pytest.raises(Unauthorized) as unauthorized:
            await bad("get_charger_status", offline)
        assert unauthorized.value.status == 401
        assert (await bad("health")).status == "ok"  # needs no key
        assert (await bad("ready")).checks.redis == "ok"
    finally:
        await bad.close()


async def test_rate_limited_carries_retry_after_and_retries_are_bounded(
    sdk: Sdk, live: Live
) -> None:
    limited = await live.make_partner(minute=2, hour=1000)
    cp = live.new_id("RL")
    no_retries = Sdk(sdk.kind, limited.key, live.url, retry=RetryPolicy(max_retries=0))
    try:
        for _ in range(2):
            with pytest.raises(NotFound):
                await no_retries("get_charger_status", cp)
        with pytest.raises(RateLimited) as caught:
            await no_retries("get_charger_status", cp)
    finally:
        await no_retries.close()
    assert caught.value.status == 429
    assert caught.value.retry_after is not None and caught.value.retry_after > 0

    # a Retry-After longer than the longest wait is the caller's: raised at once, no sleep
    impatient = Sdk(sdk.kind, limited.key, live.url, retry=RetryPolicy(max_wait=0.5))
    slept: list[float] = []
    transport = impatient.sync._t if impatient.sync else impatient.aio._t  # type: ignore[union-attr]

    async def record(seconds: float) -> None:
        slept.append(seconds)

    transport._sleep = slept.append if impatient.sync else record  # type: ignore[assignment]
    try:
        with pytest.raises(RateLimited):
            await impatient("get_charger_status", cp)
        assert slept == []
        # one that may wait that long waits exactly what the API said, a bounded number of times
        transport.retry = RetryPolicy(max_retries=2, max_wait=120, total_wait=240)
        with pytest.raises(RateLimited) as again:
            await impatient("get_charger_status", cp)
    finally:
        await impatient.close()
    assert len(slept) == 2 and all(s > 0 for s in slept)
    assert again.value.retry_after is not None


class _LoseFirstAnswer:
    """Forwards every request to the gateway but loses the first answer to a control request
    (as a dropped connection would), and remembers the Idempotency-Key of each attempt."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.lost = False

    def after(self, request: httpx.Request) -> None:
        if request.url.path.endswith("/control"):
            self.keys.append(request.headers["Idempotency-Key"])
            if not self.lost:
                self.lost = True
                raise httpx.ReadError("connection reset", request=request)


class _SyncLossy(httpx.HTTPTransport):
    def __init__(self, fault: _LoseFirstAnswer) -> None:
        super().__init__()
        self.fault = fault

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        response.read()
        self.fault.after(request)
        return response


class _AsyncLossy(httpx.AsyncHTTPTransport):
    def __init__(self, fault: _LoseFirstAnswer) -> None:
        super().__init__()
        self.fault = fault

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        await response.aread()
        self.fault.after(request)
        return response


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_retried_on_sends_one_command(kind: str, live: Live) -> None:
    cp = live.new_id("IDEM")
    charger = await live.plug_in(cp)
    fault = _LoseFirstAnswer()
    transport = _SyncLossy(fault) if kind == "sync" else _AsyncLossy(fault)
    client = Sdk(kind, live.partner.key, live.url, transport=transport)
    try:
        result = await client("control", cp, "on")
    finally:
        await client.close()
    assert fault.lost and len(fault.keys) == 2 and fault.keys[0] == fault.keys[1]
    assert result.status == "Accepted" and result.replayed is True
    assert sent(charger, "RemoteStartTransaction") == 1

    # the same key given explicitly, twice: one command, the same answer
    explicit = Sdk(kind, live.partner.key, live.url)
    try:
        first = await explicit("control", cp, "off", idempotency_key=f"stop-{cp}")
        second = await explicit("control", cp, "off", idempotency_key=f"stop-{cp}")
    finally:
        await explicit.close()
    assert second.command_id == first.command_id and second.replayed and not first.replayed
    assert sent(charger, "RemoteStopTransaction") == 1


class _CutEventStream(httpx.AsyncHTTPTransport):
    """Cuts the first event stream right after its first event (a dropped connection)."""

    def __init__(self) -> None:
        super().__init__()
        self.last_event_ids: list[str | None] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        if not request.url.path.endswith("/events"):
            return response
        self.last_event_ids.append(request.headers.get("Last-Event-ID"))
        if len(self.last_event_ids) > 1:
            return response
        upstream = response.stream

        class Cut(httpx.AsyncByteStream):
            async def __aiter__(self) -> AsyncIterator[bytes]:
                async for chunk in upstream:  # type: ignore[union-attr]
                    yield chunk
                    if b"event: status" in chunk:
                        raise httpx.ReadError("connection reset", request=request)

            async def aclose(self) -> None:
                await upstream.aclose()  # type: ignore[union-attr]

        return httpx.Response(
            response.status_code, headers=response.headers, stream=Cut(), request=request
        )


async def test_event_feed_delivers_status_changes_across_a_reconnection(live: Live) -> None:
    cp = live.new_id("EV")
    await live.plug_in(cp)
    transport = _CutEventStream()
    async with AsyncEVChargingClient(live.partner.key, live.url, transport=transport) as client:
        await _status_is(client, cp, "AVAILABLE")
        stream = await client.events(types=["status", "command"]).open()
        seen: list[tuple[str, str]] = []
        async with stream:
            await client.control(cp, "on", wait=False)

            async def until(status: str) -> StatusEvent:
                async for event in stream:
                    if isinstance(event, CommandEvent):
                        seen.append(("command", event.state))
                    if isinstance(event, StatusEvent) and event.charger_id == cp:
                        seen.append(("status", event.status))
                        if event.status == status:
                            return event
                raise AssertionError("the stream ended")

            charging = await asyncio.wait_for(until("CHARGING"), 20)
            assert charging.event_id is not None and charging.received_at
            await client.control(cp, "off")
            await asyncio.wait_for(until("AVAILABLE"), 20)
            assert stream.last_event_id is not None
    # the first connection was cut after its first status event; the client reconnected by
    # itself, resuming after the last event it had yielded, and nothing was lost
    assert transport.last_event_ids[0] is None and len(transport.last_event_ids) >= 2
    assert transport.last_event_ids[1] is not None
    assert ("command", "ACCEPTED") in seen
    statuses = [s for kind, s in seen if kind == "status"]
    assert statuses.index("CHARGING") < len(statuses) - 1 and statuses[-1] == "AVAILABLE"


async def test_sync_event_feed_delivers_a_status_change(live: Live) -> None:
    cp = live.new_id("EVS")
    await live.plug_in(cp)
    async with AsyncEVChargingClient(live.partner.key, live.url) as probe:
        await _status_is(probe, cp, "AVAILABLE")
    with EVChargingClient(live.partner.key, live.url) as client:
        stream = client.events(types=["status"])
        await asyncio.to_thread(stream.open)

        def first_charging() -> StatusEvent:
            for event in stream:
                if isinstance(event, StatusEvent) and event.status == "CHARGING":
                    return event
            raise AssertionError("the stream ended")

        waiting = asyncio.create_task(asyncio.to_thread(first_charging))
        result = await asyncio.to_thread(client.control, cp, "on")
        assert result.status == "Accepted"
        event = await asyncio.wait_for(waiting, 20)
        stream.close()
    assert event.charger_id == cp and stream.last_event_id == event.event_id
