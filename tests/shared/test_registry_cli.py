"""`evcs admin …`: the admin API's operations from the command line, on the same registry."""

from __future__ import annotations

import asyncio
import base64
import re
from typing import Any

import asyncpg
import orjson
import pytest
import redis.asyncio as redis
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from csms.server import CsmsApp
from shared import apikeys, registry
from shared.redis_keys import F, Keys
from shared.settings import Settings
from tests.csms.conftest import open_raw
from tests.gateway.support import eventually


async def test_partner_key_and_charger_lifecycle(
    admin: object, pool: asyncpg.Pool, rds: redis.Redis, keys: Keys, uid: str
) -> None:
    run: Any = admin
    pid = f"cli-{uid}"
    assert (await run("create-partner", "CLI Partner", "--id", pid, "--quota", "1")).strip() == pid
    out = await run("update-partner", pid, "--rate-minute", "42", "--quota", "none")
    shown = orjson.loads(out)
    assert shown["rateLimitMinute"] == 42 and shown["chargerQuota"] is None

    out = await run("issue-key", pid, "--name", "ops")
    key = re.search(r"(evcs_\w+)", out).group(1)  # type: ignore[union-attr]
    assert apikeys.well_formed(key)
    listed = orjson.loads(await run("list-keys", "--prefix", key[:12]))
    assert [k["partnerId"] for k in listed] == [pid] and key not in str(listed)
    key_id = listed[0]["id"]
    out = await run("rotate-key", key_id, "--overlap", "0")
    assert "shown once" in out
    record = await registry.find_key(pool, apikeys.digest(key))
    assert record is not None and record.replaced
    new_id = orjson.loads(await run("list-keys", pid))[0]["id"]
    assert "revoked" in await run("revoke-key", new_id)

    cp = f"CLI-{uid}"
    out = await run("register-charger", cp, "--protocol", "ocpp1.6", "--partner", pid)
    assert "password (shown once)" in out
    assert await rds.hget(keys.charger(cp), F.OWNER) == pid
    await run("unassign-charger", cp)
    assert await rds.hget(keys.charger(cp), F.OWNER) == ""
    await run("assign-charger", cp, pid)
    await run("decommission-charger", cp)
    assert await rds.hget(keys.charger(cp), F.REMOVED) == "1"
    listed = orjson.loads(await run("list-chargers", "--partner", pid, "--all"))
    assert [c["chargerId"] for c in listed] == [cp] and listed[0]["removedAt"]

    assert "suspended" in await run("suspend-partner", pid)
    assert "active" in await run("reactivate-partner", pid)
    audit = orjson.loads(await run("audit", "--target", pid, "--limit", "3"))
    assert [e["action"] for e in audit] == [
        "partner.reactivate",
        "partner.suspend",
        "api_key.revoke",
    ]
    assert all(e["actor"].startswith("cli") for e in audit)

    err = await run("delete-partner", pid, fails=True)
    assert "--yes" in err
    out = await run("delete-partner", pid, "--yes")
    # the rotated-out key is revoked now too; the decommissioned charger is unassigned
    assert out.strip() == f"deleted {pid}: 1 keys revoked, 1 chargers unassigned"
    err = await run("get-partner", pid, fails=True)
    assert "not found" in err


async def test_an_operator_sees_who_is_connected_and_changes_a_password(
    admin: object, settings: Settings, uid: str
) -> None:
    run: Any = admin
    node = CsmsApp(
        settings.model_copy(
            update={"csms_port": 0, "node_id": f"cli-node-{uid}", "charger_auth": True}
        )
    )
    await node.start()
    try:
        cp = f"OPS-{uid}"
        out = await run("register-charger", cp, "--protocol", "ocpp1.6")
        first = re.search(r"\(shown once\): (\S+)", out).group(1)  # type: ignore[union-attr]
        shown = orjson.loads(await run("get-charger", cp))
        assert (shown["online"], shown["node"], shown["lastSeen"]) == (False, None, None)

        async with _charger(node, cp, first) as ws:
            boot = {"chargePointVendor": "ACME", "chargePointModel": "X", "firmwareVersion": "7.1"}
            await ws.send(orjson.dumps([2, "1", "BootNotification", boot]).decode())
            await ws.recv()
            shown = orjson.loads(await run("get-charger", cp))
            assert shown["online"] is True and shown["node"] == f"cli-node-{uid}"
            assert shown["firmwareVersion"] == "7.1" and shown["lastSeen"]
            listed = orjson.loads(await run("list-chargers"))
            mine = [c for c in listed if c["chargerId"] == cp]
            assert mine == [{k: v for k, v in shown.items() if k != "reports"}]

            out = await run("set-charger-password", cp)
            second = re.search(r"\(shown once\): (\S+)", out).group(1)  # type: ignore[union-attr]
            assert second != first
            with pytest.raises(InvalidStatus) as refused:
                async with _charger(node, cp, first):
                    pass
            assert refused.value.response.status_code == 401
        async with _charger(node, cp, second):
            pass

        async def offline() -> bool:
            charger = orjson.loads(await run("get-charger", cp))
            return charger["online"] is False and charger["node"] is None

        await eventually(offline)
        audit = orjson.loads(await run("audit", "--target", cp, "--limit", "1"))
        assert audit[0]["action"] == "charger.password" and second not in str(audit)
        err = await run("set-charger-password", cp, "--password", "short", fails=True)
        assert "16 to 40" in err
    finally:
        await node.stop()


def _charger(node: CsmsApp, cp: str, password: str) -> Any:
    token = base64.b64encode(f"{cp}:{password}".encode()).decode()
    return connect(
        f"{node.url}/{cp}",
        subprotocols=["ocpp1.6"],  # type: ignore[list-item]
        additional_headers={"Authorization": f"Basic {token}"},
    )


async def test_an_operator_sends_any_ocpp_message_from_the_command_line(
    admin: object, settings: Settings, pool: asyncpg.Pool, uid: str
) -> None:
    run: Any = admin
    node = CsmsApp(settings.model_copy(update={"csms_port": 0, "node_id": f"cli-send-{uid}"}))
    await node.start()
    try:
        cp = f"SEND-{uid}"
        raw = await open_raw(node, cp, "ocpp2.0.1")
        await raw.call(
            "BootNotification",
            {"reason": "PowerUp", "chargingStation": {"vendorName": "V", "model": "M"}},
        )
        sent = asyncio.ensure_future(
            run(
                "send",
                cp,
                "GetLog",
                '{"logType": "DiagnosticsLog", "requestId": 7,'
                ' "log": {"remoteLocation": "https://logs.example/up"}}',
            )
        )
        call = await raw.recv_call()
        assert call[2] == "GetLog" and call[3]["requestId"] == 7
        await raw.answer(call[1], {"status": "Accepted", "filename": "log-7.tgz"})
        shown = orjson.loads(await sent)
        assert (shown["outcome"], shown["chargerResponse"]["filename"]) == ("ACCEPTED", "log-7.tgz")
        actor = await pool.fetchval(
            "SELECT actor FROM partner_commands WHERE id = $1", shown["commandId"]
        )
        assert actor.startswith("cli")

        err = await run("send", cp, "GetLog", '{"logType": "Everything"}', fails=True)
        assert "schema" in err
        err = await run("send", cp, "GetDiagnostics", '{"location": "x"}', fails=True)
        assert "OCPP 2.0.1 has no GetDiagnostics" in err
        err = await run("send", cp, "ClearCache", "not json", fails=True)
        assert "not JSON" in err
        await raw.ws.close()
    finally:
        await node.stop()
    err = await run("send", f"NOPE-{uid}", "ClearCache", fails=True)
    assert "not found" in err


async def test_an_operator_sends_a_local_list_from_the_command_line(
    admin: object, settings: Settings, uid: str
) -> None:
    run: Any = admin
    node = CsmsApp(settings.model_copy(update={"csms_port": 0, "node_id": f"cli-ll-{uid}"}))
    await node.start()
    try:
        cp = f"LL-{uid}"
        await run("register-charger", cp, "--protocol", "ocpp1.6", "--no-password")
        await run("token", "add", f"T{uid}"[:20], "--status", "Accepted")
        raw = await open_raw(node, cp)
        await raw.call("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
        sent = asyncio.ensure_future(run("local-list", cp))
        call = await raw.recv_call()
        assert (call[2], call[3]["updateType"], call[3]["listVersion"]) == (
            "SendLocalList",
            "Full",
            1,
        )
        assert f"T{uid}"[:20] in [e["idTag"] for e in call[3]["localAuthorizationList"]]
        await raw.answer(call[1], {"status": "Accepted"})
        shown = orjson.loads(await sent)
        assert (shown["versionNumber"], shown["outcome"]) == (1, "ACCEPTED")

        sent = asyncio.ensure_future(run("local-list", cp, fails=True))
        call = await raw.recv_call()
        assert (call[3]["updateType"], call[3]["listVersion"]) == ("Differential", 2)
        await raw.ws.send(orjson.dumps([4, call[1], "NotSupported", "no lists here", {}]).decode())
        assert "NotSupported: no lists here" in await sent
        await raw.ws.close()
    finally:
        await node.stop()
