"""The operators' fleet list: every charger with its live state and connectors, filtered by
partner and id in the database and by status and online state from Redis, a page at a time,
never scanning more than a bounded number of chargers for one page."""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as redis

from gateway import fleet
from shared.redis_keys import Keys
from tests.gateway.support import (
    Gateway,
    MakeCharger,
    MakePartner,
    admin_headers,
    mark_alive,
    online_state,
)

A = "/api/v1/admin/chargers"


async def _ids(gw: Gateway, **params: str) -> tuple[list[str], str | None]:
    resp = await gw.client.get(A, params=params, headers=admin_headers())
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    return [c["chargerId"] for c in body["chargers"]], body["nextCursor"]


async def _all(gw: Gateway, **params: str) -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        ids, cursor = await _ids(gw, **params, **({"cursor": cursor} if cursor else {}))
        seen += ids
        if cursor is None:
            return seen


async def test_the_list_shows_live_state_and_filters_by_status_online_partner_and_id(
    gw: Gateway,
    make_partner: MakePartner,
    charger: MakeCharger,
    rds: redis.Redis,
    keys: Keys,
    uid: str,
) -> None:
    node = f"n-{uid}"
    await mark_alive(rds, keys, node, [gw])
    a, b = await make_partner(), await make_partner()
    charging = await charger(
        a, f"FL-{uid}-charging", **online_state(node, **{"st:1": "Charging", "st:2": "Available"})
    )
    available = await charger(b, f"FL-{uid}-free", **online_state(node, **{"st:1": "Available"}))
    offline = await charger(None, f"fl-{uid}-never")

    resp = await gw.client.get(f"{A}/{charging}", headers=admin_headers())
    shown: dict[str, Any] = await resp.json()
    assert shown["status"] == "CHARGING" and shown["online"] and shown["node"] == node
    assert shown["connectors"] == [
        {"connectorId": 1, "status": "CHARGING", "ocppStatus": "Charging", "transactionId": None},
        {"connectorId": 2, "status": "AVAILABLE", "ocppStatus": "Available", "transactionId": None},
    ]

    mine = sorted([charging, available, offline])
    assert await _all(gw, q=f"FL-{uid}") == mine  # any case
    assert await _all(gw, q=f"{uid}-FREE") == [available]
    assert await _all(gw, q=f"fl-{uid}", partnerId=a.id) == [charging]
    assert await _all(gw, q=f"fl-{uid}", status="CHARGING,UNKNOWN") == sorted([charging, offline])
    assert await _all(gw, q=f"fl-{uid}", online="true") == sorted([charging, available])
    assert await _all(gw, q=f"fl-{uid}", online="false") == [offline]
    assert await _all(gw, q=f"fl-{uid}", online="true", status="AVAILABLE") == [available]
    assert await _all(gw, q=f"fl-{uid}", limit="1") == mine  # one a page
    for bad in ({"status": "SLEEPING"}, {"q": "a b"}, {"online": "maybe"}):
        resp = await gw.client.get(A, params=bad, headers=admin_headers())
        assert resp.status == 400, bad


async def test_a_filtered_page_stops_after_a_bounded_scan_and_its_cursor_goes_on(
    gw: Gateway, charger: MakeCharger, monkeypatch: pytest.MonkeyPatch, uid: str
) -> None:
    monkeypatch.setattr(fleet, "SCAN_CHUNK", 2)
    monkeypatch.setattr(fleet, "SCAN_MAX", 3)
    ids = [await charger(None, f"SC-{uid}-{n}") for n in range(7)]
    # none is online: each page looks at 3 chargers at most, finds nothing, and leads on
    pages = 0
    cursor: str | None = None
    while True:
        found, cursor = await _ids(
            gw, q=f"SC-{uid}", online="true", **({"cursor": cursor} if cursor else {})
        )
        pages += 1
        assert found == []
        if cursor is None:
            break
    assert pages == 3  # 7 chargers, 3 a page
    assert await _all(gw, q=f"SC-{uid}", online="false") == ids
