"""OCPP-J frames: the three message types out, and strict parsing in."""

from __future__ import annotations

import json

import pytest

from simulators import framing


def test_builds_call_callresult_and_callerror_as_json_arrays() -> None:
    assert json.loads(framing.call("1", "Heartbeat", {})) == [2, "1", "Heartbeat", {}]
    assert json.loads(framing.result("1", {"status": "Accepted"})) == [
        3,
        "1",
        {"status": "Accepted"},
    ]
    assert json.loads(framing.error("1", "NotImplemented", "no")) == [
        4,
        "1",
        "NotImplemented",
        "no",
        {},
    ]


def test_parses_each_frame_type() -> None:
    call = framing.parse('[2, "a", "Reset", {"type": "Soft"}]')
    assert (call.kind, call.msg_id, call.action, call.payload) == (
        framing.CALL,
        "a",
        "Reset",
        {"type": "Soft"},
    )
    result = framing.parse(b'[3, "a", {"status": "Accepted"}]')
    assert (result.kind, result.payload) == (framing.CALLRESULT, {"status": "Accepted"})
    error = framing.parse('[4, "a", "InternalError", "boom", {"x": 1}]')
    assert (error.kind, error.error_code, error.error_description, error.payload) == (
        framing.CALLERROR,
        "InternalError",
        "boom",
        {"x": 1},
    )


@pytest.mark.parametrize(
    "raw",
    ["not json", "{}", "[2]", '[2, 5, "Reset", {}]', '[3, "a", []]', '[9, "a", {}]'],
)
def test_rejects_anything_else(raw: str) -> None:
    with pytest.raises(framing.FrameError):
        framing.parse(raw)


def test_a_malformed_call_keeps_its_id_so_it_can_be_answered() -> None:
    with pytest.raises(framing.FrameError) as caught:
        framing.parse('[2, "a7", "Reset"]')

    assert caught.value.msg_id == "a7"
