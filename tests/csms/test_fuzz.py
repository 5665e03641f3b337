"""Property-based fuzzing of OCPP-J frames: whatever a charger sends, the node neither
crashes nor goes quiet, and everything it answers is a frame the spec allows."""

from __future__ import annotations

import itertools
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared import framing, ocpp_schemas
from shared.framing import CODES, ERROR_CODES, OCPP16, OCPP201
from tests.csms import strict
from tests.csms.conftest import Connect, RawCharger
from tests.csms.test_conformance import MESSAGES

PROTOCOLS = (OCPP16, OCPP201)
_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT
)
JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=12,
)
ACTIONS = sorted({a for table in MESSAGES.values() for a, _, _ in table} | {"Reset", "Nope"})


def _mutations(valid: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A valid payload with one key dropped, retyped or added."""
    keys = sorted(valid)
    if not keys:
        return st.fixed_dictionaries({}, optional={"extra": JSON})
    return st.one_of(
        st.sampled_from(keys).map(lambda k: {n: v for n, v in valid.items() if n != k}),
        st.tuples(st.sampled_from(keys), JSON).map(lambda kv: {**valid, kv[0]: kv[1]}),
        st.tuples(_TEXT, JSON).map(lambda kv: {**valid, kv[0]: kv[1]}),
        st.just(valid),
    )


def _calls(protocol: str) -> st.SearchStrategy[list[Any]]:
    return st.sampled_from(MESSAGES[protocol]).flatmap(
        lambda case: _mutations(case[1]).map(lambda p: [2, "fz", case[0], p])
    )


FRAMES = st.one_of(
    JSON.map(lambda v: orjson.dumps(v).decode()),
    _TEXT,
    st.tuples(
        st.sampled_from([2, 3, 4, 5, 0, -1, "2", 2.0, True, None]) | st.integers(-(2**63), 2**63),
        st.one_of(_TEXT, JSON),
        st.one_of(st.sampled_from(ACTIONS), _TEXT, JSON),
        JSON,
    ).map(lambda t: orjson.dumps(list(t)).decode()),
    st.sampled_from(PROTOCOLS).flatmap(_calls).map(lambda f: orjson.dumps(f).decode()),
    st.sampled_from(
        [
            '[2, "big", "Heartbeat", {"n": 1' + "0" * 30 + "}]",
            '[2, "deep", "Heartbeat", ' + "[" * 2000 + "]" * 2000 + "]",
            '[2, "nan", "MeterValues", {"connectorId": NaN}]',
        ]
    ),
)


@settings(max_examples=300, deadline=None, database=None)
@given(protocol=st.sampled_from(PROTOCOLS), frame=FRAMES)
def test_parse_and_validate_never_fail_unexpectedly(protocol: str, frame: str) -> None:
    codes = CODES[protocol]
    try:
        parsed = framing.parse(frame, codes)
    except framing.FrameError as exc:
        assert exc.code in ERROR_CODES[protocol]
        if exc.answerable:
            assert exc.message_id is not None
            strict.check_call_error(
                protocol,
                orjson.loads(framing.call_error(exc.message_id, exc.code, exc.description)),
            )
        return
    if isinstance(parsed, framing.Call):
        found = ocpp_schemas.violation(protocol, parsed.action, parsed.payload, codes)
        assert found is None or found[0] in ERROR_CODES[protocol]


_sentinels = itertools.count()
_sent: list[str] = []
_connections: dict[str, RawCharger] = {}


def _action_of(frame: str) -> str | None:
    try:
        value = orjson.loads(frame)
    except orjson.JSONDecodeError:
        return None
    if isinstance(value, list) and len(value) == 4 and isinstance(value[2], str):
        return (
            value[2]
            if ocpp_schemas.known(OCPP16, value[2], True)
            or ocpp_schemas.known(OCPP201, value[2], True)
            else None
        )
    return None


@settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
async def test_a_live_node_answers_every_frame_within_the_spec(
    charger: Connect, uid: str, data: st.DataObject
) -> None:
    # one connection per version for all examples: the same charger takes every frame
    protocol = data.draw(st.sampled_from(PROTOCOLS))
    key = f"{protocol}-{uid}"
    c = _connections.get(key)
    if c is None:
        c = _connections[key] = await charger(f"FUZZ-{protocol[-3:]}-{uid}", protocol)
    frame = data.draw(FRAMES)
    _sent.append(frame)
    await c.ws.send(frame)
    sentinel = f"sentinel-{next(_sentinels)}"
    await c.ws.send(f'[2, "{sentinel}", "Heartbeat", {{}}]')
    action = _action_of(frame)
    while True:
        reply = orjson.loads(await c.ws.recv())
        if reply[1] == sentinel:
            # after whatever came before, the node still answers; a Heartbeat may be refused
            # only because a fuzzed BootNotification was not accepted
            strict.check_reply(protocol, "Heartbeat", reply)
            break
        strict.check_reply(protocol, action if reply[0] == 3 else None, reply)


def test_the_live_fuzzing_really_ran() -> None:
    assert len(_sent) >= 100
