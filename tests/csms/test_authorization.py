"""Tokens answered from the token store, for both OCPP versions: the decision on its own, then
through a real node: unknown, accepted, blocked, expired, group, concurrent; a refused start
recorded as refused; a remote start that vouches for its token; simulators that stop a
session refused at its start."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
import redis.asyncio as redis
from redis.crc import key_slot

from csms.authorization import (
    Running,
    RunningChange,
    Token,
    TokenReader,
    concurrent,
    decide,
    id_tag_info,
    id_token_info,
    token_of,
)
from csms.server import CsmsApp
from evcs.dev import authorize_unknown
from shared import events as ev
from shared import registry
from shared.bus import Action, Outcome
from shared.redis_keys import F, Keys
from shared.redis_lane import hot_path
from shared.settings import Settings
from simulators import SimCharger16, SimCharger201
from simulators.charger import SimCharger
from tests.csms.conftest import Command, RawCharger, StartCsms, open_raw, until

NOW = 1_800_000_000.0
TS = "2026-01-01T00:00:00Z"
OK = Token("Accepted", None, None, None, "ISO14443")


# the decision alone --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "unknown", "running", "expected"),
    [
        (None, "Invalid", False, "Unknown"),
        (None, "Accepted", False, "Accepted"),
        (None, "Accepted", True, "Accepted"),  # nobody's token: nothing runs under it
        (OK, "Invalid", False, "Accepted"),
        (Token("Blocked", None, None, None, "ISO14443"), "Accepted", False, "Blocked"),
        (Token("Expired", None, None, None, "ISO14443"), "Accepted", False, "Expired"),
        (Token("Accepted", NOW - 1, None, None, "ISO14443"), "Invalid", False, "Expired"),
        (Token("Accepted", NOW + 60, None, None, "ISO14443"), "Invalid", False, "Accepted"),
        (OK, "Invalid", True, "ConcurrentTx"),
        (Token("Blocked", None, None, None, "ISO14443"), "Invalid", True, "Blocked"),
        (Token("Accepted", NOW - 1, None, None, "ISO14443"), "Invalid", True, "Expired"),
    ],
)
def test_the_decision(token: Token | None, unknown: str, running: bool, expected: str) -> None:
    assert decide(token, NOW, unknown, running) == expected


def test_the_answers_name_group_and_expiry_in_each_version() -> None:
    grouped = Token("Accepted", NOW, "FLEET-7", "acme", "eMAID")
    assert id_tag_info("Accepted", grouped) == {
        "status": "Accepted",
        "expiryDate": "2027-01-15T08:00:00Z",
        "parentIdTag": "FLEET-7",
    }
    assert id_token_info("Accepted", grouped) == {
        "status": "Accepted",
        "cacheExpiryDateTime": "2027-01-15T08:00:00Z",
        "groupIdToken": {"idToken": "FLEET-7", "type": "eMAID"},
    }
    assert id_tag_info("Unknown", None) == {"status": "Invalid"}  # 1.6 has no Unknown
    assert id_token_info("Unknown", None) == {"status": "Unknown"}
    long_group = Token("Accepted", None, "G" * 21, None, "ISO14443")
    assert "parentIdTag" not in id_tag_info("Accepted", long_group)  # 1.6 IdToken: 20 at most


def test_what_counts_as_another_transaction() -> None:
    live = {1: "11", 2: "12"}
    assert not concurrent(None, "CP-1", live, "13")
    assert concurrent(Running("CP-2", "99"), "CP-1", live, None)  # elsewhere
    assert not concurrent(Running("CP-1", "11"), "CP-1", live, None)  # its charger: to stop it
    assert concurrent(Running("CP-1", "11"), "CP-1", live, "13")  # another connector runs it
    assert not concurrent(Running("CP-1", "11"), "CP-1", live, "11")  # the same transaction
    assert not concurrent(Running("CP-1", "5"), "CP-1", live, "13")  # a stop that got lost


def test_which_calls_ask_about_a_token() -> None:
    assert token_of("ocpp1.6", "Authorize", {"idTag": "T"}) == "T"
    assert token_of("ocpp1.6", "StopTransaction", {"transactionId": 1}) is None
    assert token_of("ocpp1.6", "Heartbeat", {}) is None
    event = {"idToken": {"idToken": "T", "type": "ISO14443"}}
    assert token_of("ocpp2.0.1", "TransactionEvent", event) == "T"
    assert token_of("ocpp2.0.1", "TransactionEvent", {}) is None


def test_evcs_dev_accepts_unknown_tokens_unless_told_otherwise() -> None:
    assert authorize_unknown({}) == "Accepted"
    assert authorize_unknown({"EVCS_AUTHORIZE_UNKNOWN": "Invalid"}) == "Invalid"


def test_evcs_csms_refuses_unknown_tokens_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("EVCS_AUTHORIZE_UNKNOWN", raising=False)
    assert Settings().authorize_unknown == "Invalid"
    monkeypatch.setenv("EVCS_AUTHORIZE_UNKNOWN", "Accepted")
    assert Settings().authorize_unknown == "Accepted"


# the store, on one Redis server and on a cluster -----------------------------------------


@pytest.mark.parametrize("topology", ["standalone", "cluster"], indirect=True)
async def test_one_round_trip_reads_a_token_and_its_transaction_on_either_topology(
    backend: tuple[Settings, redis.Redis], pool: asyncpg.Pool, uid: str, topology: str
) -> None:
    settings, r = backend
    keys = Keys.of(settings)
    tag = f"TOP-{uid}".upper()
    assert key_slot(keys.token(tag).encode()) == key_slot(keys.token_tx(tag).encode())
    assert key_slot(keys.token(tag).encode()) == key_slot(keys.token_grant(tag, "CP-1").encode())
    await registry.create_token(pool, r, keys, tag, status="Accepted", group_id="G")
    commands = hot_path(r)
    reader = TokenReader(keys, commands)
    try:
        state = await reader.lookup(tag.lower(), "CP-1")
        assert state.uid == tag and state.running is None
        assert state.token is not None and state.token.group_id == "G"
        await reader.record([RunningChange(tag, "CP-1", "1", True)])
        assert (await reader.lookup(tag, "CP-1")).running == Running("CP-1", "1")
        await reader.record([RunningChange(tag, "CP-1", "2", False)])  # not its transaction
        assert (await reader.lookup(tag, "CP-1")).running == Running("CP-1", "1")
        # several at once, whatever their slots: a replaced transaction's token is cleared as
        # its successor's is marked
        other = f"TOQ-{uid}".upper()
        await reader.record(
            [RunningChange(tag, "CP-1", "1", False), RunningChange(other, "CP-1", "3", True)]
        )
        assert (await reader.lookup(tag, "CP-1")).running is None
        assert (await reader.lookup(other, "CP-1")).running == Running("CP-1", "3")
        await reader.record([RunningChange(other, "CP-1", "3", False)])
        assert (await reader.lookup(other, "CP-1")).running is None
        assert (await reader.lookup("not/a/token", "CP-1")).token is None  # no round trip
        # a remote start's word counts on its charger only, whatever node reads it
        await reader.grant(tag.lower(), "CP-1")
        assert (await reader.lookup(tag, "CP-1")).granted
        assert not (await reader.lookup(tag, "CP-2")).granted
        # asked without a wait on one server's connection, and read after it in order; a
        # cluster's coalescer cannot ask at once, and says so
        now = reader.grant_now(tag, "CP-3")
        assert now is (topology == "standalone")
        if now:
            assert (await reader.lookup(tag, "CP-3")).granted
    finally:
        await commands.aclose()
        await registry.delete_token(pool, r, keys, tag)


# through a real node -------------------------------------------------------------------


@pytest.fixture
async def tokens(
    pool: asyncpg.Pool, rds: redis.Redis, keys: Keys, uid: str
) -> AsyncIterator[dict[str, str]]:
    """A token of each kind, registered (upper-case ids; a charger may send them in any case)."""
    made = {
        "accepted": {"status": "Accepted", "group_id": f"GRP-{uid}"},
        "blocked": {"status": "Blocked"},
        "expired": {"status": "Expired"},
        "lapsed": {"status": "Accepted", "expires_at": datetime.now(UTC) - timedelta(hours=1)},
    }
    ids = {}
    for kind, values in made.items():
        token_id = f"{kind}-{uid}".upper()
        await registry.create_token(pool, rds, keys, token_id, **values)
        ids[kind] = token_id
    yield ids
    for token_id in ids.values():
        await registry.delete_token(pool, rds, keys, token_id)


@pytest.fixture
async def strict(start_csms: StartCsms, uid: str) -> CsmsApp:
    """A node as `evcs csms` runs by default, with ConcurrentTx on."""
    return await start_csms(
        node_id=f"auth-{uid}", authorize_unknown="Invalid", authorize_concurrent_tx=True
    )


async def _events(rds: redis.Redis, keys: Keys, cp: str, kind: str) -> list[Any]:
    found = [ev.decode(fields) for _, fields in await rds.xrange(keys.stream(0))]
    return [e for e in found if e["cp"] == cp and e["type"] == kind]


def _tx201(kind: str, tx: str, seq: int, token: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "eventType": kind,
        "timestamp": TS,
        "triggerReason": "Authorized" if kind == "Started" else "StopAuthorized",
        "seqNo": seq,
        "transactionInfo": {"transactionId": tx},
        "evse": {"id": 1, "connectorId": 1},
    }
    if token is not None:
        event["idToken"] = {"idToken": token, "type": "ISO14443"}
    return event


async def test_the_matrix_in_ocpp16(
    strict: CsmsApp, tokens: dict[str, str], rds: redis.Redis, keys: Keys, uid: str
) -> None:
    c = await open_raw(strict, f"AU16-{uid}")
    try:
        expected = {
            f"NOBODY-{uid}": {"status": "Invalid"},
            tokens["accepted"].lower(): {"status": "Accepted", "parentIdTag": f"GRP-{uid}"},
            tokens["blocked"]: {"status": "Blocked"},
            tokens["expired"]: {"status": "Expired"},
        }
        for tag, info in expected.items():
            reply = await c.call("Authorize", {"idTag": tag})
            assert reply[2] == {"idTagInfo": info}, tag
        lapsed = (await c.call("Authorize", {"idTag": tokens["lapsed"]}))[2]["idTagInfo"]
        assert lapsed["status"] == "Expired" and lapsed["expiryDate"].endswith("Z")

        # a refused start still gets its transaction id (the charger stops it), and is
        # recorded with the refusal
        start = {"connectorId": 1, "idTag": tokens["blocked"], "meterStart": 0, "timestamp": TS}
        reply = (await c.call("StartTransaction", start))[2]
        assert reply["idTagInfo"] == {"status": "Blocked"} and isinstance(
            reply["transactionId"], int
        )
        [recorded] = await _events(rds, keys, f"AU16-{uid}", "tx_start")
        assert recorded["auth_status"] == "Blocked" and "token_partner" not in recorded
        stop = {
            "transactionId": reply["transactionId"],
            "meterStop": 0,
            "timestamp": TS,
            "reason": "DeAuthorized",
            "idTag": tokens["blocked"],
        }
        assert (await c.call("StopTransaction", stop))[2] == {"idTagInfo": {"status": "Blocked"}}
        start = {**start, "idTag": f"NOBODY-{uid}"}
        assert (await c.call("StartTransaction", start))[2]["idTagInfo"] == {"status": "Invalid"}
    finally:
        await c.ws.close()


async def test_the_matrix_in_ocpp201(
    strict: CsmsApp, tokens: dict[str, str], rds: redis.Redis, keys: Keys, uid: str
) -> None:
    cp = f"AU201-{uid}"
    c = await open_raw(strict, cp, "ocpp2.0.1")
    try:
        expected = {
            f"NOBODY-{uid}": {"status": "Unknown"},
            tokens["accepted"].lower(): {
                "status": "Accepted",
                "groupIdToken": {"idToken": f"GRP-{uid}", "type": "ISO14443"},
            },
            tokens["blocked"]: {"status": "Blocked"},
            tokens["expired"]: {"status": "Expired"},
        }
        for token, info in expected.items():
            reply = await c.call("Authorize", {"idToken": {"idToken": token, "type": "ISO14443"}})
            assert reply[2] == {"idTokenInfo": info}, token
        reply = await c.call(
            "Authorize", {"idToken": {"idToken": tokens["lapsed"], "type": "ISO14443"}}
        )
        assert reply[2]["idTokenInfo"]["status"] == "Expired"

        started = await c.call(
            "TransactionEvent", _tx201("Started", f"t-{uid}", 0, tokens["expired"])
        )
        assert started[2] == {"idTokenInfo": {"status": "Expired"}}
        [recorded] = await _events(rds, keys, cp, "tx_start")
        assert recorded["auth_status"] == "Expired"
        await c.call("TransactionEvent", _tx201("Ended", f"t-{uid}", 1))
        # a token no event carries needs no answer
        assert (await c.call("TransactionEvent", _tx201("Started", f"u-{uid}", 0)))[2] == {}
    finally:
        await c.ws.close()


async def test_a_token_with_a_running_transaction_is_concurrent_elsewhere(
    strict: CsmsApp, tokens: dict[str, str], rds: redis.Redis, keys: Keys, uid: str
) -> None:
    tag = tokens["accepted"]
    a = await open_raw(strict, f"CCA-{uid}")
    b = await open_raw(strict, f"CCB-{uid}", "ocpp2.0.1")
    try:
        start = {"connectorId": 1, "idTag": tag, "meterStart": 0, "timestamp": TS}
        reply = (await a.call("StartTransaction", start))[2]
        assert reply["idTagInfo"]["status"] == "Accepted"
        tx = reply["transactionId"]
        assert await rds.get(keys.token_tx(tag)) == f"CCA-{uid} {tx}"
        assert await rds.hget(keys.charger(f"CCA-{uid}"), F.TX_TOKEN + "1") == tag
        # the same card on another charger, of either version
        id_token = {"idToken": tag, "type": "ISO14443"}
        assert (await b.call("Authorize", {"idToken": id_token}))[2]["idTokenInfo"][
            "status"
        ] == "ConcurrentTx"
        refused = await b.call("TransactionEvent", _tx201("Started", f"cc-{uid}", 0, tag))
        assert refused[2]["idTokenInfo"]["status"] == "ConcurrentTx"
        [recorded] = await _events(rds, keys, f"CCB-{uid}", "tx_start")
        assert recorded["auth_status"] == "ConcurrentTx"
        await b.call("TransactionEvent", _tx201("Ended", f"cc-{uid}", 1))
        # ... and on its own charger it may be shown again (to stop the session)
        assert (await a.call("Authorize", {"idTag": tag}))[2]["idTagInfo"]["status"] == "Accepted"
        second = {**start, "connectorId": 2}
        assert (await a.call("StartTransaction", second))[2]["idTagInfo"][
            "status"
        ] == "ConcurrentTx"

        stop = {"transactionId": tx, "meterStop": 10, "timestamp": TS, "idTag": tag}
        assert (await a.call("StopTransaction", stop))[2]["idTagInfo"]["status"] == "Accepted"
        assert await rds.get(keys.token_tx(tag)) is None
        assert (await b.call("Authorize", {"idToken": id_token}))[2]["idTokenInfo"][
            "status"
        ] == "Accepted"
        # a 2.0.1 transaction holds the token too, until it ends
        await b.call("TransactionEvent", _tx201("Started", f"dd-{uid}", 0, tag))
        assert (await a.call("Authorize", {"idTag": tag}))[2]["idTagInfo"][
            "status"
        ] == "ConcurrentTx"
        await b.call("TransactionEvent", _tx201("Ended", f"dd-{uid}", 1))
        assert (await a.call("Authorize", {"idTag": tag}))[2]["idTagInfo"]["status"] == "Accepted"
    finally:
        await a.ws.close()
        await b.ws.close()


async def test_a_start_on_a_connector_whose_transaction_never_stopped_frees_its_token(
    strict: CsmsApp, tokens: dict[str, str], rds: redis.Redis, keys: Keys, uid: str
) -> None:
    tag = tokens["accepted"]
    a = await open_raw(strict, f"RPA-{uid}")
    b = await open_raw(strict, f"RPB-{uid}", "ocpp2.0.1")
    id_token = {"idToken": tag, "type": "ISO14443"}
    try:
        start = {"connectorId": 1, "idTag": tag, "meterStart": 0, "timestamp": TS}
        first = (await a.call("StartTransaction", start))[2]["transactionId"]
        # the same card on the same connector, the first session never stopped: it is over
        again = (await a.call("StartTransaction", {**start, "meterStart": 5}))[2]
        assert again["idTagInfo"]["status"] == "Accepted" and again["transactionId"] != first
        assert await rds.get(keys.token_tx(tag)) == f"RPA-{uid} {again['transactionId']}"
        # another card there: the first card no longer runs anything, here or elsewhere
        other = {**start, "idTag": f"NOBODY-{uid}", "meterStart": 9}
        assert (await a.call("StartTransaction", other))[2]["idTagInfo"]["status"] == "Invalid"
        assert await rds.get(keys.token_tx(tag)) is None
        assert await rds.hget(keys.charger(f"RPA-{uid}"), F.TX_TOKEN + "1") == ""
        assert (await b.call("Authorize", {"idToken": id_token}))[2]["idTokenInfo"][
            "status"
        ] == "Accepted"

        # the same in 2.0.1, on an EVSE
        await b.call("TransactionEvent", _tx201("Started", f"r1-{uid}", 0, tag))
        assert await rds.get(keys.token_tx(tag)) == f"RPB-{uid} r1-{uid}"
        replaced = await b.call("TransactionEvent", _tx201("Started", f"r2-{uid}", 0, tag))
        assert replaced[2]["idTokenInfo"]["status"] == "Accepted"
        assert await rds.get(keys.token_tx(tag)) == f"RPB-{uid} r2-{uid}"
        await b.call("TransactionEvent", _tx201("Started", f"r3-{uid}", 0))
        assert await rds.get(keys.token_tx(tag)) is None
        assert (await a.call("Authorize", {"idTag": tag}))[2]["idTagInfo"]["status"] == "Accepted"
    finally:
        await a.ws.close()
        await b.ws.close()


async def test_without_the_setting_a_token_may_run_twice(
    start_csms: StartCsms, tokens: dict[str, str], uid: str
) -> None:
    node = await start_csms(node_id=f"cc-off-{uid}", authorize_unknown="Invalid")
    tag = tokens["accepted"]
    chargers = [await open_raw(node, f"CCOFF{n}-{uid}") for n in (1, 2)]
    try:
        for c in chargers:
            start = {"connectorId": 1, "idTag": tag, "meterStart": 0, "timestamp": TS}
            assert (await c.call("StartTransaction", start))[2]["idTagInfo"]["status"] == "Accepted"
    finally:
        for c in chargers:
            await c.ws.close()


async def test_with_unknown_accepted_only_registered_tokens_are_refused(
    start_csms: StartCsms, tokens: dict[str, str], uid: str
) -> None:
    node = await start_csms(node_id=f"lax-{uid}", authorize_unknown="Accepted")
    c = await open_raw(node, f"LAX-{uid}")
    try:
        assert (await c.call("Authorize", {"idTag": f"ANY-{uid}"}))[2] == {
            "idTagInfo": {"status": "Accepted"}
        }
        reply = await c.call("Authorize", {"idTag": tokens["blocked"]})
        assert reply[2]["idTagInfo"]["status"] == "Blocked"
    finally:
        await c.ws.close()


async def _answer_remote_start(c: RawCharger) -> dict[str, Any]:
    frame = await c.recv_call()
    assert frame[2] in ("RemoteStartTransaction", "RequestStartTransaction")
    await c.answer(frame[1], {"status": "Accepted"})
    payload: dict[str, Any] = frame[3]
    return payload


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1"])
async def test_a_remote_start_vouches_for_its_token_on_that_charger(
    strict: CsmsApp, command: Command, uid: str, protocol: str
) -> None:
    cp = f"RS{protocol[-3:].replace('.', '')}-{uid}"
    c = await open_raw(strict, cp, protocol)
    other = await open_raw(strict, f"RSX{protocol[-3:].replace('.', '')}-{uid}", protocol)
    tag = f"PARTNER-{uid}"
    try:
        await c.call("Heartbeat", {})  # attached: commands find it
        started = asyncio.create_task(
            command(strict.node.node_id, cp, Action.START, {"connectorId": 1, "idTag": tag})
        )
        await _answer_remote_start(c)
        assert (await started).outcome is Outcome.ACCEPTED
        if protocol == "ocpp1.6":
            authorized = (await c.call("Authorize", {"idTag": tag}))[2]["idTagInfo"]
            start = {"connectorId": 1, "idTag": tag, "meterStart": 0, "timestamp": TS}
            info = (await c.call("StartTransaction", start))[2]["idTagInfo"]
            elsewhere = (await other.call("Authorize", {"idTag": tag}))[2]["idTagInfo"]
        else:
            id_token = {"idToken": tag, "type": "Central"}
            authorized = (await c.call("Authorize", {"idToken": id_token}))[2]["idTokenInfo"]
            event = _tx201("Started", f"rs-{uid}", 0, tag)
            info = (await c.call("TransactionEvent", event))[2]["idTokenInfo"]
            elsewhere = (await other.call("Authorize", {"idToken": id_token}))[2]["idTokenInfo"]
        assert authorized["status"] == info["status"] == "Accepted"
        assert elsewhere["status"] in ("Invalid", "Unknown")  # only on the charger started
    finally:
        await c.ws.close()
        await other.ws.close()


async def test_a_remote_start_vouches_for_its_token_the_moment_the_charger_has_the_call(
    strict: CsmsApp, command: Command, uid: str
) -> None:
    """The node does not wait for Redis to store the token's grant before it sends the CALL:
    the charger's lookup, on the same connection to Redis, is read after it all the same."""
    cp, tag = f"RSNOW-{uid}", f"NOW-{uid}"
    c = await open_raw(strict, cp)
    try:
        await c.call("Heartbeat", {})
        started = asyncio.create_task(
            command(strict.node.node_id, cp, Action.START, {"connectorId": 1, "idTag": tag})
        )
        frame = await c.recv_call()
        # before it answers the remote start
        authorized = (await c.call("Authorize", {"idTag": tag}))[2]["idTagInfo"]
        await c.answer(frame[1], {"status": "Accepted"})
        assert (await started).outcome is Outcome.ACCEPTED
        assert authorized == {"status": "Accepted"}
    finally:
        await c.ws.close()


async def test_a_remote_start_vouches_for_its_token_on_whichever_node_the_charger_is_next(
    strict: CsmsApp, start_csms: StartCsms, command: Command, uid: str
) -> None:
    """A charger that reconnects elsewhere between the remote start and its StartTransaction
    still gets the session the partner asked for."""
    other_node = await start_csms(node_id=f"auth-b-{uid}", authorize_unknown="Invalid")
    cp, tag = f"RSMOVE-{uid}", f"MOVE-{uid}"
    c = await open_raw(strict, cp)
    await c.call("Heartbeat", {})
    started = asyncio.create_task(
        command(strict.node.node_id, cp, Action.START, {"connectorId": 1, "idTag": tag})
    )
    await _answer_remote_start(c)
    assert (await started).outcome is Outcome.ACCEPTED
    await c.ws.close()
    moved = await open_raw(other_node, cp)
    try:
        start = {"connectorId": 1, "idTag": tag, "meterStart": 0, "timestamp": TS}
        info = (await moved.call("StartTransaction", start))[2]["idTagInfo"]
        assert info["status"] == "Accepted"
    finally:
        await moved.ws.close()


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1"])
async def test_a_simulated_charger_stops_a_session_refused_at_its_start(
    strict: CsmsApp, tokens: dict[str, str], rds: redis.Redis, keys: Keys, uid: str, protocol: str
) -> None:
    cp = f"SIMR{protocol[-3:].replace('.', '')}-{uid}"
    cls: type[SimCharger] = SimCharger16 if protocol == "ocpp1.6" else SimCharger201
    sim = cls(cp, strict.url, meter_interval=0.2, reconnect_delay=0.05)
    await sim.start()
    try:
        await until(lambda: _available(rds, keys, cp))
        refused = "Invalid" if protocol == "ocpp1.6" else "Unknown"
        assert await sim.authorize(f"NOBODY-{uid}") == refused
        assert await sim.authorize(tokens["blocked"]) == "Blocked"
        assert await sim.authorize(tokens["accepted"]) == "Accepted"
        await sim.start_transaction(1, tokens["blocked"])
        assert sim.transactions == {}  # not charging: ended at once
        assert sim.connector_status[1] == "Available"
        stops = await _events(rds, keys, cp, "tx_stop")
        assert [e["reason"] for e in stops] in (["DeAuthorized"], ["Deauthorized"])
        assert (await _events(rds, keys, cp, "tx_start"))[0]["auth_status"] == "Blocked"
        await until(lambda: _no_transaction(rds, keys, cp))
    finally:
        await sim.stop()


async def _available(rds: redis.Redis, keys: Keys, cp: str) -> bool:
    return await rds.hget(keys.charger(cp), F.RAW + "1") == "Available"


async def _no_transaction(rds: redis.Redis, keys: Keys, cp: str) -> bool:
    return not await rds.hget(keys.charger(cp), F.TRANSACTION + "1")
