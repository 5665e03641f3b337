"""Display messages: what a station shows, and what it refuses to."""

from __future__ import annotations

from typing import Any

from simulators.display_messages import MAX_MESSAGES, DisplayMessages


def message(message_id: int, fmt: str = "UTF8", **extra: Any) -> dict[str, Any]:
    return {
        "id": message_id,
        "priority": "NormalCycle",
        "message": {"format": fmt, "content": "hi"},
        **extra,
    }


def test_set_replaces_by_id_and_select_filters() -> None:
    display = DisplayMessages()

    assert display.set(message(1), ()) == "Accepted"
    assert display.set(message(1, priority="InFront", state="Charging"), ()) == "Accepted"
    assert display.set(message(2), ()) == "Accepted"

    assert [m["id"] for m in display.select(None, None, None)] == [1, 2]
    assert [m["id"] for m in display.select([2, 3], None, None)] == [2]
    assert [m["id"] for m in display.select(None, "InFront", "Charging")] == [1]
    assert display.select(None, None, "Faulted") == []


def test_set_refuses_what_it_cannot_show() -> None:
    display = DisplayMessages()

    assert display.set(message(1, "HTML"), ()) == "NotSupportedMessageFormat"
    assert display.set(message(2, transactionId="t1"), ()) == "UnknownTransaction"
    assert display.set(message(3, transactionId="t1"), {"t1"}) == "Accepted"
    for n in range(10, 10 + MAX_MESSAGES):
        display.set(message(n), ())
    assert display.set(message(99), ()) == "Rejected"  # full


def test_clear_and_the_end_of_a_transaction() -> None:
    display = DisplayMessages()
    display.set(message(1, transactionId="t1"), {"t1"})
    display.set(message(2), ())

    assert (display.clear(2), display.clear(2)) == ("Accepted", "Unknown")
    display.end_transaction("t1")
    assert display.messages == {}
