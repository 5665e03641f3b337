"""OCPP timestamps to epoch seconds and back."""

from __future__ import annotations

import pytest

from simulators.clock import iso, iso_now, parse_iso


def test_iso_writes_utc_with_milliseconds() -> None:
    assert iso(0.0) == "1970-01-01T00:00:00.000Z"
    assert iso(1_700_000_000.1234) == "2023-11-14T22:13:20.123Z"
    assert iso(1.9999) == "1970-01-01T00:00:01.999Z"  # never rounds up into a 1000th ms
    assert iso_now().endswith("Z")


@pytest.mark.parametrize(
    ("text", "epoch"),
    [
        ("2023-11-14T22:13:20Z", 1_700_000_000.0),
        ("2023-11-14T22:13:20.500Z", 1_700_000_000.5),
        ("2023-11-14T23:13:20+01:00", 1_700_000_000.0),
        ("2023-11-14T22:13:20", 1_700_000_000.0),  # no offset: UTC
    ],
)
def test_parse_iso(text: str, epoch: float) -> None:
    assert parse_iso(text) == epoch


def test_parse_iso_refuses_what_is_no_date() -> None:
    with pytest.raises(ValueError):
        parse_iso("tomorrow")
