"""What both simulated chargers do alike: connect, boot, route CALLs, heartbeat, reconnect.

Every test runs against a real WebSocket server (FakeCentral) that checks each frame the
charger sends against the official OCPP JSON schemas; the `central` fixture fails the test
on any violation.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Callable
from http import HTTPStatus
from typing import Any

import pytest

from simulators import (
    BootRejected,
    CallError,
    ConnectionRejected,
    NotConnected,
    SimCharger,
    SimCharger16,
    SimCharger201,
)
from tests.simulators.fake_central import FakeCentral, Session, eventually

CLASSES: dict[str, type[SimCharger]] = {"ocpp1.6": SimCharger16, "ocpp2.0.1": SimCharger201}
Make = Callable[..., SimCharger]


@pytest.fixture
async def central() -> AsyncIterator[FakeCentral]:
    async with FakeCentral() as server:
        yield server
    assert server.invalid == []


@pytest.fixture(params=sorted(CLASSES))
def protocol(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def make(central: FakeCentral, protocol: str) -> AsyncIterator[Make]:
    made: list[SimCharger] = []

    def factory(charger_id: str = "CP-1", **kwargs: Any) -> SimCharger:
        kwargs.setdefault("meter_interval", 0.05)
        kwargs.setdefault("reconnect_delay", 0.05)
        kwargs.setdefault("call_timeout", 5.0)
        charger = CLASSES[protocol](charger_id, central.url, **kwargs)
        made.append(charger)
        return charger

    yield factory
    for charger in made:
        await charger.stop()


def boot_and_status_actions(session: Session) -> list[str]:
    return [a for a in session.actions() if a in ("BootNotification", "StatusNotification")]


async def test_connects_to_url_slash_id_offering_its_one_subprotocol(
    central: FakeCentral, make: Make, protocol: str
) -> None:
    await make("CP-1").start()

    session = central.session("CP-1")
    assert session.path == "/ocpp/CP-1"
    assert session.protocol == protocol
    assert session.authorization is None


async def test_sends_http_basic_auth_with_charger_id_as_username(
    central: FakeCentral, make: Make
) -> None:
    await make("CP-7", password="s3cret").start()

    expected = base64.b64encode(b"CP-7:s3cret").decode()
    assert central.session("CP-7").authorization == f"Basic {expected}"


async def test_boots_then_reports_every_connector_available(
    central: FakeCentral, make: Make, protocol: str
) -> None:
    charger = make(connectors=2)
    await charger.start()

    session = central.session("CP-1")
    assert session.actions()[0] == "BootNotification"
    # OCPP 1.6 also reports connector 0, the charge point as a whole.
    ids = [0, 1, 2] if protocol == "ocpp1.6" else [1, 2]
    assert session.statuses() == [(i, "Available") for i in ids]
    assert charger.booted
    assert charger.connector_status == {i: "Available" for i in ids}


async def test_start_raises_when_boot_is_rejected(central: FakeCentral, make: Make) -> None:
    central.boot_status = "Rejected"
    charger = make()

    with pytest.raises(BootRejected):
        await charger.start()

    assert not charger.booted
    assert central.session("CP-1").actions() == ["BootNotification"]


async def test_start_raises_when_the_handshake_is_refused(central: FakeCentral, make: Make) -> None:
    central.reject_http = HTTPStatus.UNAUTHORIZED

    with pytest.raises(ConnectionRejected):
        await make(password="wrong").start()


async def test_pending_boot_is_retried_after_the_interval(central: FakeCentral, make: Make) -> None:
    answers = iter(["Pending", "Accepted"])
    central.replies["BootNotification"] = lambda _s, _p: {
        "status": next(answers),
        "currentTime": "2024-01-01T00:00:00Z",
        "interval": 1,
    }
    charger = make()

    await charger.start()

    assert central.session("CP-1").actions()[:2] == ["BootNotification", "BootNotification"]
    assert charger.booted


async def test_heartbeats_at_the_interval_from_the_boot_response(
    central: FakeCentral, make: Make
) -> None:
    central.heartbeat_interval = 1
    charger = make()
    await charger.start()

    await eventually(lambda: "Heartbeat" in central.session("CP-1").actions(), timeout=3)
    assert charger.heartbeat_interval == 1


async def test_unknown_action_is_answered_with_not_implemented(
    central: FakeCentral, make: Make
) -> None:
    charger = make()
    await charger.start()

    reply = await central.call("CP-1", "MakeCoffee", {"sugar": 2}, check=False)

    assert reply[0] == 4
    assert reply[2] == "NotImplemented"
    assert charger.received == [("MakeCoffee", {"sugar": 2})]


async def test_call_raises_call_error_on_a_callerror_reply(
    central: FakeCentral, make: Make
) -> None:
    charger = make()
    await charger.start()
    central.errors["DataTransfer"] = "NotSupported"

    with pytest.raises(CallError) as caught:
        await charger.call("DataTransfer", {"vendorId": "evcs"})

    assert caught.value.code == "NotSupported"


async def test_only_one_call_is_outstanding_at_a_time(central: FakeCentral, make: Make) -> None:
    charger = make()
    await charger.start()
    central.reply_delay = 0.05

    await asyncio.gather(*(charger.call("Heartbeat", {}) for _ in range(5)))

    session = central.session("CP-1")
    assert session.actions().count("Heartbeat") == 5
    assert session.max_outstanding == 1


async def test_reconnects_and_boots_again_when_the_server_closes(
    central: FakeCentral, make: Make
) -> None:
    charger = make()
    await charger.start()

    await central.drop("CP-1")

    await eventually(lambda: len(central.sessions) == 2 and charger.booted)
    assert charger.boot_count == 2
    again = central.session("CP-1")
    assert again.actions()[0] == "BootNotification"
    # its statuses follow the boot's answer, which `booted` already shows
    await eventually(lambda: "StatusNotification" in again.actions())


async def test_keeps_retrying_while_the_server_refuses(central: FakeCentral, make: Make) -> None:
    charger = make()
    await charger.start()
    central.reject_http = HTTPStatus.SERVICE_UNAVAILABLE

    await central.drop("CP-1")
    await eventually(lambda: central.http_attempts >= 3)
    assert not charger.connected
    central.reject_http = None

    await eventually(lambda: len(central.sessions) == 2 and charger.booted)


async def test_stop_closes_the_connection(central: FakeCentral, make: Make) -> None:
    charger = make()
    await charger.start()

    await charger.stop()

    assert not charger.connected and not charger.booted
    await eventually(lambda: central.session("CP-1").ws.close_code is not None)
    with pytest.raises(NotConnected):
        await charger.call("Heartbeat", {})


async def test_idle_reports_status_and_meter_when_enabled(central: FakeCentral, make: Make) -> None:
    await make(idle_report_interval=0.05).start()
    session = central.session("CP-1")
    booted_statuses = len(session.statuses())

    await eventually(lambda: len(session.payloads("MeterValues")) >= 2)
    assert len(session.statuses()) > booted_statuses


async def test_no_idle_reports_by_default(central: FakeCentral, make: Make) -> None:
    await make().start()
    await asyncio.sleep(0.2)

    assert "MeterValues" not in central.session("CP-1").actions()


async def test_local_session_can_be_started_and_stopped(
    central: FakeCentral, make: Make, protocol: str
) -> None:
    charger = make()
    await charger.start()

    tx = await charger.start_transaction(1, "LOCAL1")
    assert charger.transaction_id == tx.id is not None
    await eventually(lambda: charger.meter_wh > 0)
    await charger.stop_transaction(1)

    assert charger.transaction_id is None
    assert charger.connector_status[1] == "Available"
    actions = central.session("CP-1").actions()
    if protocol == "ocpp1.6":
        assert "StartTransaction" in actions and "StopTransaction" in actions
    else:
        kinds = [e["eventType"] for e in central.session("CP-1").payloads("TransactionEvent")]
        assert kinds[0] == "Started" and kinds[-1] == "Ended"


async def test_a_session_stopped_while_its_start_is_reported_is_ended_after_it(
    central: FakeCentral, make: Make, protocol: str
) -> None:
    """A reset (or a remote stop) lands while the start waits for its answer: the central
    system hears the start, then its end, and no session is left open there."""
    charger = make("CP-1", meter_interval=5)
    await charger.start()
    central.reply_delay = 0.3  # the start's answer is slow
    starting = asyncio.create_task(charger.start_transaction(1, "TAG"))
    session = central.session("CP-1")
    sent = len(session.calls)
    # the Preparing/Occupied status that goes first: the start is not even built yet
    await eventually(lambda: len(session.calls) > sent)
    central.reply_delay = 0.0
    reset = {"type": "Soft" if protocol == "ocpp1.6" else "Immediate"}
    assert (await central.call("CP-1", "Reset", reset))[0] == 3
    await starting

    def reports() -> list[tuple[str, Any]]:
        out = []
        for action, payload in session.calls:
            if action == "StartTransaction":
                out.append(("start", None))
            elif action == "StopTransaction":
                out.append(("stop", payload["transactionId"]))
            elif action == "TransactionEvent" and payload["eventType"] != "Updated":
                out.append((payload["eventType"], payload["seqNo"]))
        return out

    expected = [("start", None), ("stop", 42)] if protocol == "ocpp1.6" else [
        ("Started", 0),
        ("Ended", 1),
    ]  # fmt: skip
    await eventually(lambda: reports() == expected)
