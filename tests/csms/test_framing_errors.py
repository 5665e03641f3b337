"""Malformed frames get the CALLERROR OCPP-J names, and the node keeps serving: the same
charger's next CALL and every other charger."""

from __future__ import annotations

import asyncio

import orjson
import pytest
import redis.asyncio as redis
from websockets.exceptions import ConnectionClosed

from csms.server import CsmsApp
from shared import events as ev
from shared.redis_keys import Keys
from tests.csms.conftest import Connect, RawCharger

TS = "2026-01-01T00:00:00Z"
STATUS16 = '{"connectorId": 1, "errorCode": "NoError", "status": "Available"'


@pytest.mark.parametrize(
    ("protocol", "frame", "code", "message_id"),
    [
        # not JSON, not an array, no readable id: answered with id "-1"
        ("ocpp1.6", "not json", "FormationViolation", "-1"),
        ("ocpp2.0.1", "not json", "RpcFrameworkError", "-1"),
        ("ocpp1.6", '{"a": 1}', "FormationViolation", "-1"),
        ("ocpp2.0.1", "[]", "RpcFrameworkError", "-1"),
        ("ocpp2.0.1", '[2, 17, "Heartbeat", {}]', "RpcFrameworkError", "-1"),
        ("ocpp2.0.1", '[2, "", "Heartbeat", {}]', "RpcFrameworkError", "-1"),
        ("ocpp2.0.1", '[2, "' + "x" * 37 + '", "Heartbeat", {}]', "RpcFrameworkError", "-1"),
        ("ocpp1.6", '[2, "' + "x" * 37 + '", "Heartbeat", {}]', "FormationViolation", "-1"),
        # unsupported message type
        ("ocpp2.0.1", '[9, "a1", "Heartbeat", {}]', "MessageTypeNotSupported", "a1"),
        ("ocpp2.0.1", '[5, "a1b", "Heartbeat", {}]', "MessageTypeNotSupported", "a1b"),
        ("ocpp2.0.1", '[2.0, "a1c", "Heartbeat", {}]', "MessageTypeNotSupported", "a1c"),
        ("ocpp1.6", '[7, "a1d", "Heartbeat", {}]', "ProtocolError", "a1d"),
        # a CALL that is not [2, id, action, {payload}]
        ("ocpp1.6", '[2, "a2", "Heartbeat"]', "FormationViolation", "a2"),
        ("ocpp2.0.1", '[2, "a2b", "Heartbeat", []]', "RpcFrameworkError", "a2b"),
        ("ocpp2.0.1", '[2, "a2c", 5, {}]', "RpcFrameworkError", "a2c"),
        # unknown action: NotImplemented as OCPP-J says (the `ocpp` library says NotSupported)
        ("ocpp1.6", '[2, "a3", "NoSuchAction", {}]', "NotImplemented", "a3"),
        ("ocpp2.0.1", '[2, "a3b", "NoSuchAction", {}]', "NotImplemented", "a3b"),
        ("ocpp2.0.1", '[2, "a3c", "../../x", {}]', "NotImplemented", "a3c"),
        # an action the spec knows but a central system does not take from a charger
        ("ocpp1.6", '[2, "a3d", "Reset", {"type": "Hard"}]', "NotSupported", "a3d"),
        ("ocpp2.0.1", '[2, "a3e", "GetVariables", {}]', "NotSupported", "a3e"),
        # schema violations, by the spelling of each version
        (
            "ocpp1.6",
            '[2, "a4", "StatusNotification", {"connectorId": 1}]',
            "OccurenceConstraintViolation",
            "a4",
        ),
        (
            "ocpp2.0.1",
            '[2, "a5", "StatusNotification", {"timestamp": "'
            + TS
            + '", "connectorStatus": "Available", "evseId": 1}]',
            "OccurrenceConstraintViolation",
            "a5",
        ),
        (
            "ocpp1.6",
            '[2, "a6", "StatusNotification", {"connectorId": "one", "errorCode": "NoError", "status": "Available"}]',
            "TypeConstraintViolation",
            "a6",
        ),
        (
            "ocpp2.0.1",
            '[2, "a6b", "Heartbeat", {"x": 1}]',
            "FormatViolation",
            "a6b",
        ),
        (
            "ocpp1.6",
            '[2, "a7", "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Sleeping"}]',
            "PropertyConstraintViolation",
            "a7",
        ),
        (
            "ocpp1.6",
            '[2, "a7b", "StatusNotification", ' + STATUS16 + ', "timestamp": "yesterday"}]',
            "PropertyConstraintViolation",
            "a7b",
        ),
        (
            "ocpp1.6",
            '[2, "a7c", "Authorize", {"idTag": "' + "T" * 21 + '"}]',
            "PropertyConstraintViolation",
            "a7c",
        ),
        ("ocpp1.6", '[2, "a8", "Heartbeat", {"surprise": true}]', "FormationViolation", "a8"),
        ("ocpp2.0.1", '[2, "a8b", "Heartbeat", {"surprise": true}]', "FormatViolation", "a8b"),
        (
            "ocpp2.0.1",
            '[2, "a9", "MeterValues", {"evseId": 1, "meterValue": []}]',
            "OccurrenceConstraintViolation",
            "a9",
        ),
    ],
)
async def test_malformed_frame_gets_the_named_callerror(
    charger: Connect, uid: str, protocol: str, frame: str, code: str, message_id: str
) -> None:
    c = await charger(f"BAD-{uid}", protocol)
    other = await charger(f"BYSTANDER-{uid}", protocol)
    reply = await c.send_raw(frame)  # strict: a well-formed CALLERROR with a code of this version
    assert reply[0] == 4
    assert reply[1] == message_id
    assert reply[2] == code
    # the same connection still works afterwards, and so does everyone else's
    assert (await c.call("Heartbeat", {}))[0] == 3
    assert (await other.call("Heartbeat", {}))[0] == 3


async def _next_is_heartbeat_answer(c: RawCharger) -> None:
    """The next frame the csms sends is the answer to a fresh Heartbeat: nothing came before."""
    reply = await c.call("Heartbeat", {})
    assert reply[0] == 3


@pytest.mark.parametrize(
    "frame",
    [
        '[3, "nobody-asked", {}]',  # an answer to no CALL of ours: ignored
        '[4, "nobody-asked", "GenericError", "", {}]',
        '[3, "broken"]',  # a broken answer: never answered, as there is no reply to a reply
        '[4, "broken"]',
        "[3, 5, {}]",
        '[4, {"id": 1}, "x", "y", {}]',
    ],
)
async def test_answers_are_never_answered(charger: Connect, uid: str, frame: str) -> None:
    c = await charger(f"ANS-{uid}", "ocpp2.0.1")
    await c.ws.send(frame)
    await _next_is_heartbeat_answer(c)


async def test_other_chargers_are_not_disturbed(charger: Connect, uid: str) -> None:
    good = await charger(f"GOOD-{uid}")
    bad = await charger(f"EVIL-{uid}")
    for junk in ("", "[", "[2]", "null", "\x00" * 100, "[" * 5000, "1e999", '[2, "x", 5, 5]'):
        reply = await bad.send_raw(junk)
        assert reply[:3] == [4, "x" if "x" in junk else "-1", "FormationViolation"]
    assert (await good.call("Heartbeat", {}))[0] == 3


async def test_a_binary_frame_is_read_like_text(charger: Connect, uid: str) -> None:
    c = await charger(f"BIN-{uid}")
    await c.ws.send(b'[2, "b1", "Heartbeat", {}]')
    assert orjson.loads(await c.ws.recv())[:2] == [3, "b1"]


async def test_frame_over_the_size_limit_closes_with_1009(
    csms: CsmsApp, charger: Connect, uid: str
) -> None:
    c = await charger(f"HUGE-{uid}")
    bystander = await charger(f"SMALL-{uid}")
    padding = "x" * (csms.settings.max_frame_bytes + 1)
    await c.ws.send(f'[2, "h1", "DataTransfer", {{"vendorId": "v", "data": "{padding}"}}]')
    with pytest.raises(ConnectionClosed):
        await c.ws.recv()
    assert c.ws.close_code == 1009
    assert (await bystander.call("Heartbeat", {}))[0] == 3


async def test_a_frame_just_under_the_limit_is_served(
    csms: CsmsApp, charger: Connect, uid: str
) -> None:
    c = await charger(f"BIG-{uid}")
    padding = "x" * (csms.settings.max_frame_bytes - 100)
    reply = await c.send_raw(
        f'[2, "h2", "DataTransfer", {{"vendorId": "v", "data": "{padding}"}}]', "DataTransfer"
    )
    assert reply[:2] == [3, "h2"]


async def test_a_repeated_call_id_in_flight_runs_the_handler_once(
    charger: Connect, rds: redis.Redis, keys: Keys, uid: str
) -> None:
    cp = f"DUPID-{uid}"
    c = await charger(cp)
    frame = orjson.dumps(
        [
            2,
            "same-id",
            "StartTransaction",
            {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": TS},
        ]
    ).decode()
    # the charger retries before it has read the first answer
    await c.ws.send(frame)
    await c.ws.send(frame)
    first = orjson.loads(await c.ws.recv())
    second = orjson.loads(await c.ws.recv())
    assert first == second and first[0] == 3
    entries = [ev.decode(f) for _, f in await rds.xrange(keys.stream(0))]
    starts = [e for e in entries if e["cp"] == cp and e["type"] == "tx_start"]
    assert len(starts) == 1
    # a new id is a new CALL
    again = await c.call(
        "StartTransaction", {"connectorId": 2, "idTag": "T", "meterStart": 0, "timestamp": TS}
    )
    assert again[2]["transactionId"] != first[2]["transactionId"]


async def test_many_frames_at_once_are_answered_in_order(charger: Connect, uid: str) -> None:
    c = await charger(f"BURST-{uid}", "ocpp2.0.1")
    for n in range(50):
        await c.ws.send(f'[2, "burst-{n}", "Heartbeat", {{}}]')
    ids = [orjson.loads(await asyncio.wait_for(c.ws.recv(), 5))[1] for _ in range(50)]
    assert ids == [f"burst-{n}" for n in range(50)]
