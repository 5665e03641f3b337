"""Batch commands: one on/off command for up to 1000 of the partner's chargers, each outcome
reported, synchronously or not, idempotently under an Idempotency-Key."""

from __future__ import annotations

from collections import Counter

from aiohttp import web

from gateway import idempotency
from gateway.api import Endpoint, Reply
from gateway.command_log import Order
from gateway.command_schemas import (
    BatchControlJson,
    BatchControlRequest,
    BatchItemJson,
    CommandQuery,
)
from gateway.commands import Settled, failure_message, http_status
from gateway.jsonio import json_response
from gateway.ownership import owned_ids
from gateway.routes.control import accepted_headers, asynchronous, mode, present
from gateway.routes.params import IDEMPOTENCY_KEY, PREFER
from gateway.routes.paths import API
from gateway.state import DISPATCH, partner_id
from shared.bus import Action
from shared.ids import new_id


def _item(charger_id: str, order: Order | None, settled: Settled | None) -> BatchItemJson:
    if order is None:
        return {
            "chargerId": charger_id,
            "commandId": None,
            "state": "NOT_FOUND",
            "httpStatus": 404,
            "message": "charger not found",
            "chargerResponse": None,
        }
    if settled is None:
        return {
            "chargerId": charger_id,
            "commandId": order.command_id,
            "state": "PENDING",
            "httpStatus": 202,
            "message": None,
            "chargerResponse": None,
        }
    status = http_status(settled)
    return {
        "chargerId": charger_id,
        "commandId": order.command_id,
        "state": settled.reply.outcome.value,
        "httpStatus": status,
        "message": None if status == 200 else failure_message(settled),
        "chargerResponse": settled.reply.response,
    }


async def _batch(request: web.Request, body: BatchControlRequest, is_async: bool) -> web.Response:
    dispatch = request.app[DISPATCH]
    partner = partner_id(request)
    mine = await owned_ids(request, body.ids)
    action = Action.START if body.action == "on" else Action.STOP
    params = present(connectorId=body.connector_id, idTag=body.id_tag)
    orders = {cp: Order(new_id("cmd"), cp, action, params) for cp in body.ids if cp in mine}
    if orders:
        await dispatch.take(partner, list(orders.values()), mode(is_async))
    settled: dict[str, Settled] = {}
    if is_async:
        if orders:
            dispatch.run_later(partner, list(orders.values()))
    elif orders:
        done = await dispatch.run(partner, list(orders.values()))
        settled = {s_order.charger_id: s for s_order, s in zip(orders.values(), done, strict=True)}
    results = [_item(cp, orders.get(cp), settled.get(cp)) for cp in body.ids]
    answer: BatchControlJson = {
        "results": results,
        "summary": dict(Counter(item["state"] for item in results)),
    }
    response = json_response(answer, status=202 if is_async else 200)
    if is_async:
        response.headers.update(accepted_headers(None))
    return response


async def batch_control(request: web.Request) -> web.Response:
    """One on/off command for up to 1000 chargers, all sent at once; one rate-limit unit."""
    body = await BATCH_CONTROL.body_of(request)
    is_async = asynchronous(request, BATCH_CONTROL)
    key = idempotency.key_of(request)
    fingerprint = idempotency.fingerprint(
        request.method, request.path, body.model_dump_json(), mode(is_async)
    )
    # a synchronous batch sends in rounds, each up to a charger's deadline
    takes = None if is_async else request.app[DISPATCH].longest(len(body.ids))
    return await idempotency.once(
        request, key, fingerprint, lambda: _batch(request, body, is_async), takes
    )


BATCH_CONTROL = Endpoint(
    "POST",
    f"{API}/chargers/batch/control",
    batch_control,
    "batchControl",
    "Switch up to 1000 chargers on or off",
    "commands",
    access="partner",
    description="Sends the command to every one of the partner's chargers among `ids` at"
    " once and reports each outcome (`state`, and the `httpStatus` it would have alone);"
    " other ids are NOT_FOUND. With `?mode=async` / `Prefer: respond-async`: 202 with a"
    " command id per charger, outcomes on /events and /commands/{commandId}. Honours"
    " Idempotency-Key. Counts as one request for rate limiting.",
    query=CommandQuery,
    body=BatchControlRequest,
    body_example={"ids": ["CP-0001", "CP-0002"], "action": "off"},
    params=(IDEMPOTENCY_KEY, PREFER),
    replies={
        200: Reply(
            "Every charger's outcome",
            BatchControlJson,
            {
                "results": [
                    {
                        "chargerId": "CP-0001",
                        "commandId": "cmd_5f2b9c0a1d3e4f60",
                        "state": "ACCEPTED",
                        "httpStatus": 200,
                        "message": None,
                        "chargerResponse": {"status": "Accepted"},
                    },
                    {
                        "chargerId": "CP-0002",
                        "commandId": None,
                        "state": "NOT_FOUND",
                        "httpStatus": 404,
                        "message": "charger not found",
                        "chargerResponse": None,
                    },
                ],
                "summary": {"ACCEPTED": 1, "NOT_FOUND": 1},
            },
            headers=("Idempotent-Replayed",),
        ),
        202: Reply(
            "Taken for asynchronous execution: every command PENDING",
            BatchControlJson,
            {
                "results": [
                    {
                        "chargerId": "CP-0001",
                        "commandId": "cmd_5f2b9c0a1d3e4f60",
                        "state": "PENDING",
                        "httpStatus": 202,
                        "message": None,
                        "chargerResponse": None,
                    }
                ],
                "summary": {"PENDING": 1},
            },
            headers=("Preference-Applied", "Idempotent-Replayed"),
        ),
    },
    errors={
        409: "A request with the same Idempotency-Key is still running",
        422: "The Idempotency-Key was used with a different request",
    },
)
