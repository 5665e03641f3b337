"""Status reads: one charger, batches, the paginated list; other partners' chargers stay invisible."""

from __future__ import annotations

import re
from typing import Any

import asyncpg
import pytest
import redis.asyncio as redis
from pydantic import TypeAdapter, ValidationError

from gateway.charger_schemas import BatchStatusQuery
from shared.redis_keys import F, Keys
from tests.gateway.support import (
    Gateway,
    MakeCharger,
    MakePartner,
    Partner,
    assert_error_body,
    mark_alive,
    online_state,
)


def _without_volatile(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in ("timestamp", "path")}


async def test_status_of_a_charging_charger(
    gw: Gateway, partner: Partner, charger: MakeCharger, rds: redis.Redis, keys: Keys, uid: str
) -> None:
    node = f"node-{uid}"
    await mark_alive(rds, keys, node, [gw])
    cp = await charger(
        partner,
        **{
            **online_state(node),
            F.RAW + "0": "Available",
            F.RAW + "1": "Charging",
            F.TRANSACTION + "1": "42",
            F.RAW + "2": "Available",
            F.KWH: "12.5",
            F.KWH_TS: "2026-01-01T10:00:00Z",
            F.STATUS_TS: "2026-01-01T09:59:00Z",
        },
    )
    resp = await gw.client.get(f"/api/v1/chargers/{cp}/status", headers=partner.headers)
    assert resp.status == 200
    body = await resp.json()
    assert body.pop("lastSeen").endswith("Z")
    assert body == {
        "chargerId": cp,
        "status": "CHARGING",
        "online": True,
        "protocol": "ocpp1.6",
        "connectors": [
            {
                "connectorId": 1,
                "status": "CHARGING",
                "ocppStatus": "Charging",
                "transactionId": "42",
            },
            {
                "connectorId": 2,
                "status": "AVAILABLE",
                "ocppStatus": "Available",
                "transactionId": None,
            },
        ],
        "meterKwh": 12.5,
        "meterTimestamp": "2026-01-01T10:00:00Z",
        "statusTimestamp": "2026-01-01T09:59:00Z",
    }


async def test_never_seen_charger_is_unknown_and_offline(
    gw: Gateway, partner: Partner, charger: MakeCharger
) -> None:
    cp = await charger(partner)
    body = await (
        await gw.client.get(f"/api/v1/chargers/{cp}/status", headers=partner.headers)
    ).json()
    assert body["status"] == "UNKNOWN" and body["online"] is False and body["connectors"] == []


async def test_charger_on_a_dead_node_is_offline(
    gw: Gateway, partner: Partner, charger: MakeCharger, uid: str
) -> None:
    cp = await charger(partner, **online_state(f"dead-{uid}"), **{F.RAW + "1": "Available"})
    body = await (
        await gw.client.get(f"/api/v1/chargers/{cp}/status", headers=partner.headers)
    ).json()
    assert body["online"] is False


async def test_other_partners_charger_looks_exactly_like_an_unknown_one(
    gw: Gateway, partner: Partner, make_partner: MakePartner, charger: MakeCharger, uid: str
) -> None:
    other = await make_partner()
    theirs = await charger(other, **{F.RAW + "1": "Available"})
    unassigned = await charger(None)
    bodies = []
    for cp in (theirs, unassigned, f"NEVER-{uid}", "bad{id}"):
        path = f"/api/v1/chargers/{cp}/status"
        resp = await gw.client.get(path, headers=partner.headers)
        assert resp.status == 404
        body = await resp.json()
        assert_error_body(body, 404, "Not Found", path)
        bodies.append(_without_volatile(body))
    assert all(b == bodies[0] for b in bodies)
    # and the owner does see it
    resp = await gw.client.get(
        f"/api/v1/chargers/{theirs}/status", headers={"x-api-key": other.key}
    )
    assert resp.status == 200


async def test_batch_get_and_post(
    gw: Gateway, partner: Partner, make_partner: MakePartner, charger: MakeCharger, uid: str
) -> None:
    mine = [await charger(partner, **{F.RAW + "1": "Available"}) for _ in range(3)]
    theirs = await charger(await make_partner())
    unknown = f"NOPE-{uid}"
    asked = [mine[0], theirs, mine[1], unknown, mine[0], mine[2]]

    resp = await gw.client.get(
        "/api/v1/chargers/batch/status", params={"ids": ",".join(asked)}, headers=partner.headers
    )
    assert resp.status == 200
    by_get = await resp.json()
    assert [c["chargerId"] for c in by_get["chargers"]] == mine  # duplicates folded, order kept
    assert by_get["notFound"] == [theirs, unknown]  # indistinguishable

    resp = await gw.client.post(
        "/api/v1/chargers/batch/status", json={"ids": asked}, headers=partner.headers
    )
    assert resp.status == 200
    by_post = await resp.json()
    assert [c["chargerId"] for c in by_post["chargers"]] == mine
    assert by_post["notFound"] == [theirs, unknown]
    assert by_post["chargers"][0]["connectors"][0]["ocppStatus"] == "Available"

    # repeated ids= parameters work too
    resp = await gw.client.get(
        f"/api/v1/chargers/batch/status?ids={mine[0]}&ids={mine[1]}", headers=partner.headers
    )
    assert [c["chargerId"] for c in (await resp.json())["chargers"]] == mine[:2]


async def test_batch_limits_and_validation(gw: Gateway, partner: Partner) -> None:
    path = "/api/v1/chargers/batch/status"
    thousand = [f"B{i}" for i in range(1000)]
    resp = await gw.client.post(path, json={"ids": thousand}, headers=partner.headers)
    assert resp.status == 200
    body = await resp.json()
    assert body["chargers"] == [] and body["notFound"] == thousand

    bad: Any
    for bad in (
        {"ids": [*thousand, "B1000"]},
        {"ids": []},
        {"ids": ["ok", "no/slash"]},
        {"ids": "A"},
        {},
    ):
        resp = await gw.client.post(path, json=bad, headers=partner.headers)
        assert resp.status == 400, bad
        assert_error_body(await resp.json(), 400, "Bad Request", path)

    resp = await gw.client.get(
        path, params={"ids": ",".join([*thousand, "B1000"])}, headers=partner.headers
    )
    assert resp.status == 400
    assert "1000" in (await resp.json())["message"]
    resp = await gw.client.get(path, headers=partner.headers)
    assert resp.status == 400
    # a misspelt parameter is refused, as on every endpoint with a query
    resp = await gw.client.get(path, params={"ids": "B1", "idz": "B2"}, headers=partner.headers)
    assert resp.status == 400
    assert "idz" in (await resp.json())["message"]


def test_the_batch_query_reads_ids_as_urls_carry_them() -> None:
    query = BatchStatusQuery.model_validate({"ids": ["A,B", "C", "A"]})
    assert query.ids == ["A", "B", "C"]  # split, joined, duplicates folded, order kept
    assert BatchStatusQuery.model_validate({"ids": "A,B"}).ids == ["A", "B"]


@pytest.mark.parametrize(
    "ids",
    ["CP-1", "CP-1,CP-2", "A:b*c.d_e-f", "x" * 48, "", ",", "CP-1,", "CP-1,,CP-2", "a/b", "x" * 49],
)
def test_the_documented_ids_pattern_is_what_the_batch_query_validates(ids: str) -> None:
    schema = TypeAdapter(BatchStatusQuery).json_schema(mode="validation")
    documented = re.fullmatch(schema["properties"]["ids"]["pattern"], ids) is not None
    try:
        BatchStatusQuery.model_validate({"ids": [ids]})
        validated = True
    except ValidationError:
        validated = False
    assert documented == validated


async def test_list_pages_through_own_chargers_only(
    gw: Gateway,
    partner: Partner,
    make_partner: MakePartner,
    charger: MakeCharger,
    pool: asyncpg.Pool,
    uid: str,
) -> None:
    mine = sorted([await charger(partner, name=f"L{uid}-{i}") for i in range(5)])
    await charger(await make_partner(), name=f"L{uid}-other")
    removed = await charger(partner, name=f"L{uid}-removed")
    await pool.execute("UPDATE chargers SET removed_at = now() WHERE id = $1", removed)

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        resp = await gw.client.get("/api/v1/chargers", params=params, headers=partner.headers)
        assert resp.status == 200
        body = await resp.json()
        pages += 1
        assert len(body["chargers"]) <= 2
        seen += [c["chargerId"] for c in body["chargers"]]
        assert all(c["status"] == "UNKNOWN" for c in body["chargers"])
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert seen == mine and pages == 3

    everything = await (await gw.client.get("/api/v1/chargers", headers=partner.headers)).json()
    assert [c["chargerId"] for c in everything["chargers"]] == mine
    assert everything["nextCursor"] is None


async def test_list_validates_limit_and_cursor(gw: Gateway, partner: Partner) -> None:
    for params in (
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "x"},
        {"cursor": "!!!"},
        {"cursor": "e30"},
    ):
        resp = await gw.client.get("/api/v1/chargers", params=params, headers=partner.headers)
        assert resp.status == 400, params
        assert_error_body(await resp.json(), 400, "Bad Request", "/api/v1/chargers")


async def test_list_filters_by_status_across_pages(
    gw: Gateway, partner: Partner, charger: MakeCharger, rds: redis.Redis, keys: Keys, uid: str
) -> None:
    node = f"node-{uid}"
    await mark_alive(rds, keys, node, [gw])
    charging = {**online_state(node), F.RAW + "1": "Charging"}
    available = {**online_state(node), F.RAW + "1": "Available"}
    made = [
        await charger(partner, name=f"F{uid}-{i}", **(charging if i % 3 == 0 else available))
        for i in range(7)
    ]
    expected = [cp for i, cp in enumerate(made) if i % 3 == 0]

    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": "2", "status": "CHARGING", **({"cursor": cursor} if cursor else {})}
        resp = await gw.client.get("/api/v1/chargers", params=params, headers=partner.headers)
        body = await resp.json()
        assert all(c["status"] == "CHARGING" for c in body["chargers"])
        seen += [c["chargerId"] for c in body["chargers"]]
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert seen == expected

    resp = await gw.client.get(
        "/api/v1/chargers", params={"status": "CHARGING,AVAILABLE"}, headers=partner.headers
    )
    assert [c["chargerId"] for c in (await resp.json())["chargers"]] == made
    for bad in ("charging", "CHARGING,", "NOPE", ""):
        resp = await gw.client.get(
            "/api/v1/chargers", params={"status": bad}, headers=partner.headers
        )
        assert resp.status == 400, bad
