"""OCPP-J frames, as both sides build and parse them."""

from __future__ import annotations

import json

import pytest

from shared import framing
from shared.framing import CODES, OCPP16, OCPP201, Call, CallError, CallResult


def test_builds_call_callresult_and_callerror_as_json_arrays() -> None:
    assert json.loads(framing.call("1", "Heartbeat", {})) == [2, "1", "Heartbeat", {}]
    assert json.loads(framing.call_result("1", {"status": "Accepted"})) == [
        3,
        "1",
        {"status": "Accepted"},
    ]
    assert json.loads(framing.call_error("1", "NotImplemented", "no")) == [
        4,
        "1",
        "NotImplemented",
        "no",
        {},
    ]
    # the spec bounds a CALLERROR's description
    assert len(json.loads(framing.call_error("1", "GenericError", "x" * 999))[3]) == 255


@pytest.mark.parametrize("protocol", [OCPP16, OCPP201])
def test_parses_each_frame_type(protocol: str) -> None:
    codes = CODES[protocol]
    assert framing.parse('[2, "a", "Reset", {"type": "Soft"}]', codes) == Call(
        "a", "Reset", {"type": "Soft"}
    )
    assert framing.parse(b'[3, "a", {"status": "Accepted"}]', codes) == CallResult(
        "a", {"status": "Accepted"}
    )
    assert framing.parse('[4, "a", "InternalError", "boom", {"x": 1}]', codes) == CallError(
        "a", "InternalError", "boom", {"x": 1}
    )


@pytest.mark.parametrize(
    ("raw", "answerable"),
    [
        ("not json", True),
        ("{}", True),
        ('[2, 5, "Reset", {}]', True),
        ('[2, "a", "Reset"]', True),
        ('[3, "a", []]', False),  # a broken answer is never answered
        ('[9, "a", {}]', True),
    ],
)
def test_a_broken_frame_names_its_error_and_whether_it_may_be_answered(
    raw: str, answerable: bool
) -> None:
    with pytest.raises(framing.FrameError) as caught:
        framing.parse(raw, CODES[OCPP201])
    assert caught.value.answerable is answerable
    assert caught.value.code in framing.ERROR_CODES[OCPP201]
