"""What a ReserveNow answers for a connector in each state."""

from __future__ import annotations

import pytest

from simulators.reservations import reserve_answer


@pytest.mark.parametrize(
    ("status", "operative", "busy", "answer"),
    [
        ("Available", True, False, "Accepted"),
        (None, True, False, "Rejected"),
        ("Faulted", True, False, "Faulted"),
        ("Available", False, False, "Unavailable"),
        ("Unavailable", True, False, "Unavailable"),
        ("Reserved", True, False, "Occupied"),
        ("Preparing", True, False, "Occupied"),
        ("Occupied", True, True, "Occupied"),
        ("Available", True, True, "Occupied"),
    ],
)
def test_reserve_answer(status: str | None, operative: bool, busy: bool, answer: str) -> None:
    assert reserve_answer(status, operative, busy) == answer
