"""GET /admin/events: operators follow every charger live (or only those a page shows),
partners' and operators' commands included, and resume with Last-Event-ID as partners do."""

from __future__ import annotations

import time

import redis.asyncio as redis

from shared import events as ev
from shared.redis_keys import Keys
from shared.settings import Settings
from tests.gateway.support import (
    Gateway,
    MakeCharger,
    MakePartner,
    Partner,
    SseReader,
    admin_headers,
)
from tests.gateway.test_events import add_status, stream

EVENTS = "/api/v1/admin/events"


async def _command_event(rds: redis.Redis, keys: Keys, cp: str, partner_id: str) -> None:
    await rds.xadd(
        keys.stream_for(cp),
        ev.encode(
            {
                "type": ev.COMMAND,
                "cp": cp,
                "at": time.time(),
                "command_id": "cmd_00000000000000ff",
                "partner_id": partner_id,
                "action": "ocpp",
                "ocpp_action": "Reset",
                "outcome": "ACCEPTED",
                "response": {"status": "Accepted"},
                "message": None,
            }
        ),
    )


async def test_every_chargers_events_and_every_command(
    gw: Gateway,
    partner: Partner,
    make_partner: MakePartner,
    charger: MakeCharger,
    rds: redis.Redis,
    keys: Keys,
    settings: Settings,
) -> None:
    a, b, nobodys = await charger(partner), await charger(await make_partner()), await charger(None)
    resp = await gw.client.get(EVENTS, headers=admin_headers())
    assert resp.status == 200 and resp.headers["Content-Type"] == "text/event-stream"
    sse = SseReader(resp)
    try:
        for cp in (a, b, nobodys):
            await add_status(rds, keys, settings, cp, "CHARGING")
        await _command_event(rds, keys, b, "")  # an operator's command
        seen = [await sse.next() for _ in range(4)]
        assert [(e.event, e.json()["chargerId"]) for e in seen] == [
            ("status", a),
            ("status", b),
            ("status", nobodys),
            ("command", b),
        ]
        assert seen[3].json()["state"] == "ACCEPTED"
        # and resumable: everything after the first, again
        resp = await gw.client.get(
            EVENTS, headers={**admin_headers(), "Last-Event-ID": seen[0].id or ""}
        )
        again = SseReader(resp)
        try:
            assert [(await again.next()).id for _ in range(3)] == [e.id for e in seen[1:]]
        finally:
            resp.close()
    finally:
        sse.response.close()


async def test_only_the_chargers_a_page_shows(
    gw: Gateway,
    partner: Partner,
    charger: MakeCharger,
    rds: redis.Redis,
    keys: Keys,
    settings: Settings,
) -> None:
    shown, other = await charger(partner), await charger(partner)
    resp = await gw.client.get(
        EVENTS, params={"chargerIds": shown, "types": "status"}, headers=admin_headers()
    )
    sse = SseReader(resp)
    try:
        await add_status(rds, keys, settings, other, "CHARGING")
        await _command_event(rds, keys, shown, partner.id)  # not a type asked for
        await add_status(rds, keys, settings, shown, "BLOCKED")
        event = await sse.next()
        assert (event.event, event.json()["chargerId"]) == ("status", shown)
    finally:
        sse.response.close()
    # the partner's own feed is as it was: its charger, never another's
    async with stream(gw, partner, types="status") as own:
        await add_status(rds, keys, settings, other, "AVAILABLE")
        assert (await own.next()).json()["chargerId"] == other
    for bad in ({"chargerIds": "a b"}, {"chargerIds": ",".join(["X"] * 101)}, {"types": "x"}):
        resp = await gw.client.get(EVENTS, params=bad, headers=admin_headers())
        assert resp.status == 400, bad
    resp = await gw.client.get(EVENTS, headers=partner.headers)
    assert resp.status == 403
