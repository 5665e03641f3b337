"""Status reads: one charger, a batch, and the partner's paginated list."""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Sequence

from aiohttp import web

from gateway.api import Endpoint, Reply
from gateway.charger_schemas import (
    BatchStatusJson,
    BatchStatusQuery,
    BatchStatusRequest,
    ChargerJson,
    ChargerPage,
    ListQuery,
    charger_json,
)
from gateway.errors import ApiError
from gateway.fleet import charger_hashes, scan_page
from gateway.guard import prefetched
from gateway.jsonio import json_response
from gateway.ownership import charger_hash, charger_id_of, not_found, owns
from gateway.routes.params import CHARGER
from gateway.routes.paths import API
from gateway.schemas import ISO_EXAMPLE
from gateway.state import HOT, KEYS, NODES, POOL, REDIS, SETTINGS, partner_id
from shared.charger_view import charger_view
from shared.ids import valid_charger_id
from shared.status import PartnerStatus

_CHARGER_EXAMPLE = {
    "chargerId": "CP-0001",
    "status": "CHARGING",
    "online": True,
    "protocol": "ocpp1.6",
    "connectors": [
        {"connectorId": 1, "status": "CHARGING", "ocppStatus": "Charging", "transactionId": "1042"},
        {"connectorId": 2, "status": "AVAILABLE", "ocppStatus": "Available", "transactionId": None},
    ],
    "meterKwh": 1234.5,
    "meterTimestamp": ISO_EXAMPLE,
    "statusTimestamp": ISO_EXAMPLE,
    "lastSeen": ISO_EXAMPLE,
}


def _render(
    request: web.Request, charger_id: str, fields: dict[str, str], now: float
) -> ChargerJson:
    app = request.app
    return charger_json(
        charger_view(charger_id, fields, now, app[NODES].alive, app[SETTINGS].offline_grace)
    )


async def charger_status(request: web.Request) -> web.Response:
    charger_id = charger_id_of(request)
    app = request.app
    key = app[KEYS].charger(charger_id)
    fields = prefetched(request, key)
    if fields is None:
        fields = await app[REDIS].hgetall(key)
    if not owns(fields, partner_id(request)):
        raise not_found()
    return json_response(_render(request, charger_id, fields, time.time()))


CHARGER_STATUS = Endpoint(
    "GET",
    f"{API}/chargers/{{chargerId}}/status",
    charger_status,
    "getChargerStatus",
    "A charger's status, connectors, meter and timestamps",
    "chargers",
    access="partner",
    description="Read from the live state in Redis: no database query.",
    params=(CHARGER,),
    replies={200: Reply("The charger", ChargerJson, _CHARGER_EXAMPLE)},
    errors={404: "The charger is unknown or not the partner's"},
    prefetch=charger_hash,
)


async def _batch(request: web.Request, ids: list[str]) -> web.Response:
    partner = partner_id(request)
    now = time.time()
    chargers: list[ChargerJson] = []
    not_found_ids: list[str] = []
    for charger_id, fields in zip(
        ids,
        await charger_hashes(request.app[REDIS], request.app[KEYS], ids, request.app[HOT]),
        strict=True,
    ):
        if owns(fields, partner):
            chargers.append(_render(request, charger_id, fields, now))
        else:
            not_found_ids.append(charger_id)
    return json_response({"chargers": chargers, "notFound": not_found_ids})


_BATCH_EXAMPLE = {"chargers": [_CHARGER_EXAMPLE], "notFound": ["CP-9999"]}


async def batch_status_get(request: web.Request) -> web.Response:
    """`?ids=A,B` (repeating `ids` works too); URLs run out long before 1000 ids, hence POST."""
    query = BATCH_STATUS_GET.query_of(request)
    return await _batch(request, query.ids)


BATCH_STATUS_GET = Endpoint(
    "GET",
    f"{API}/chargers/batch/status",
    batch_status_get,
    "batchStatusGet",
    "Status of several chargers (ids in the query)",
    "chargers",
    access="partner",
    description="Ids that are unknown or another partner's are listed in `notFound`,"
    " indistinguishably. Counts as one request for rate limiting.",
    query=BatchStatusQuery,
    replies={
        200: Reply("The chargers found and the ids not found", BatchStatusJson, _BATCH_EXAMPLE)
    },
)


async def batch_status_post(request: web.Request) -> web.Response:
    body = await BATCH_STATUS_POST.body_of(request)
    return await _batch(request, body.ids)


BATCH_STATUS_POST = Endpoint(
    "POST",
    f"{API}/chargers/batch/status",
    batch_status_post,
    "batchStatusPost",
    "Status of up to 1000 chargers (ids in the body)",
    "chargers",
    access="partner",
    description="As the GET, for lists too long for a URL. Counts as one request.",
    body=BatchStatusRequest,
    body_example={"ids": ["CP-0001", "CP-9999"]},
    replies={
        200: Reply("The chargers found and the ids not found", BatchStatusJson, _BATCH_EXAMPLE)
    },
)


def _encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> str:
    """The last id of the previous page; the cursor is opaque to partners, so any junk is a 400."""
    try:
        last_id = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        last_id = ""
    if not valid_charger_id(last_id):
        raise ApiError(400, "cursor: not a cursor this API returned")
    return last_id


def statuses_of(text: str | None) -> frozenset[PartnerStatus] | None:
    """The statuses a `status` filter names; None for no filter."""
    if text is None:
        return None
    try:
        wanted = frozenset(PartnerStatus(s) for s in text.split(","))
    except ValueError:
        wanted = frozenset()
    if not wanted:
        raise ApiError(400, f"status: each must be one of {', '.join(PartnerStatus)}")
    return wanted


async def list_chargers(request: web.Request) -> web.Response:
    """The partner's chargers in id order, a page at a time (keyset pagination)."""
    query = LIST_CHARGERS.query_of(request)
    wanted = statuses_of(query.status)
    app = request.app

    async def fetch(after: str, n: int) -> list[str]:
        # PostgreSQL says which chargers are the partner's; Redis only what state they are in.
        rows = await app[POOL].fetch(
            "SELECT id FROM chargers WHERE partner_id = $1 AND removed_at IS NULL AND id > $2"
            " ORDER BY id LIMIT $3",
            partner_id(request),
            after,
            n,
        )
        return [row["id"] for row in rows]

    async def render(ids: Sequence[str]) -> list[ChargerJson | None]:
        now = time.time()
        shown = [
            _render(request, charger_id, fields, now)
            for charger_id, fields in zip(
                ids, await charger_hashes(app[REDIS], app[KEYS], ids, app[HOT]), strict=True
            )
        ]
        return [c if wanted is None or c["status"] in wanted else None for c in shown]

    after = _decode_cursor(query.cursor) if query.cursor is not None else ""
    page, last = await scan_page(
        fetch, str, render, query.limit, after, filtered=wanted is not None
    )
    answer: ChargerPage = {
        "chargers": page,
        "nextCursor": _encode_cursor(last) if last is not None else None,
    }
    return json_response(answer)


LIST_CHARGERS = Endpoint(
    "GET",
    f"{API}/chargers",
    list_chargers,
    "listChargers",
    "List the partner's chargers with their status",
    "chargers",
    access="partner",
    description="In charger id order, `limit` at a time; pass `nextCursor` as `cursor` for"
    " the next page. Decommissioned chargers are not listed.",
    query=ListQuery,
    replies={
        200: Reply(
            "A page of chargers",
            ChargerPage,
            {"chargers": [_CHARGER_EXAMPLE], "nextCursor": "Q1AtMDAwMQ"},
        )
    },
)
