"""Commands: switch chargers on or off (one or a batch), make one available or inoperative;
synchronously (the charger's answer) or asynchronously (202 and a command id), and
idempotently under an Idempotency-Key."""

from __future__ import annotations

from collections import Counter
from typing import Any

from aiohttp import web

from gateway import idempotency
from gateway.command_log import Order
from gateway.command_schemas import (
    BatchControlJson,
    BatchControlRequest,
    BatchItemJson,
    CommandAcceptedJson,
    CommandQuery,
    CommandResultJson,
    ControlRequest,
    StatusChangeRequest,
)
from gateway.commands import Settled, failure_message, http_status
from gateway.errors import ApiError
from gateway.jsonio import json_response, read_json, validate
from gateway.ownership import charger_id_of, owned_ids, require_owned
from gateway.routes.paths import API
from gateway.state import DISPATCH, partner_id
from shared.bus import Action, Outcome
from shared.ids import new_id


def _present(**params: Any) -> dict[str, Any]:
    return {name: value for name, value in params.items() if value is not None}


def prefers_async(prefer_headers: list[str]) -> bool:
    """RFC 7240: does any Prefer header carry the respond-async preference?"""
    return any(
        part.split(";", 1)[0].strip().lower() == "respond-async"
        for header in prefer_headers
        for part in header.split(",")
    )


def _asynchronous(request: web.Request) -> bool:
    """?mode= decides when given; otherwise `Prefer: respond-async`."""
    query = validate(CommandQuery, dict(request.query))
    if "mode" in request.query:
        return query.mode == "async"
    return prefers_async(request.headers.getall("Prefer", []))


def _mode(asynchronous: bool) -> str:
    return "async" if asynchronous else "sync"


def command_location(command_id: str) -> str:
    return f"{API}/commands/{command_id}"


def _accepted_headers(command_id: str | None) -> dict[str, str]:
    headers = {"Preference-Applied": "respond-async"}
    if command_id is not None:
        headers["Location"] = command_location(command_id)
    return headers


def _result(order: Order, settled: Settled) -> CommandResultJson:
    reply = settled.reply
    accepted = reply.outcome is Outcome.ACCEPTED
    return {
        "commandId": order.command_id,
        "chargerId": order.charger_id,
        "action": order.label,
        "status": "Accepted" if accepted else "Rejected",
        "outcome": "ACCEPTED" if accepted else "REJECTED",
        "ocppAction": reply.ocpp_action,
        "chargerResponse": reply.response,
    }


async def _one(request: web.Request, order: Order, asynchronous: bool) -> web.Response:
    dispatch = request.app[DISPATCH]
    partner = partner_id(request)
    await dispatch.take(partner, [order], _mode(asynchronous))
    if asynchronous:
        dispatch.run_later(partner, [order])
        accepted: CommandAcceptedJson = {
            "commandId": order.command_id,
            "chargerId": order.charger_id,
            "action": order.label,
            "state": "PENDING",
            "location": command_location(order.command_id),
        }
        response = json_response(accepted, status=202)
        response.headers.update(_accepted_headers(order.command_id))
        return response
    [settled] = await dispatch.run(partner, [order])
    status = http_status(settled)
    if status == 200:
        return json_response(_result(order, settled))
    raise ApiError(
        status,
        failure_message(settled),
        extra={"commandId": order.command_id, "outcome": settled.reply.outcome.value},
    )


async def _command(
    request: web.Request, charger_id: str, action: Action, params: dict[str, Any], body: str
) -> web.Response:
    asynchronous = _asynchronous(request)
    key = idempotency.key_of(request)
    await require_owned(request, charger_id)
    order = Order(new_id("cmd"), charger_id, action, params)
    fingerprint = idempotency.fingerprint(request.method, request.path, body, _mode(asynchronous))
    return await idempotency.once(
        request, key, fingerprint, lambda: _one(request, order, asynchronous)
    )


async def control(request: web.Request) -> web.Response:
    """on -> RemoteStart/RequestStartTransaction, off -> stop the running transaction."""
    charger_id = charger_id_of(request)
    body = await read_json(request, ControlRequest)
    action = Action.START if body.action == "on" else Action.STOP
    params = _present(connectorId=body.connector_id, idTag=body.id_tag)
    return await _command(request, charger_id, action, params, body.model_dump_json())


async def change_status(request: web.Request) -> web.Response:
    """AVAILABLE / INOPERATIVE -> ChangeAvailability Operative / Inoperative."""
    charger_id = charger_id_of(request)
    body = await read_json(request, StatusChangeRequest)
    params = _present(operative=body.status == "AVAILABLE", connectorId=body.connector_id)
    return await _command(request, charger_id, Action.AVAILABILITY, params, body.model_dump_json())


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


async def _batch(
    request: web.Request, body: BatchControlRequest, asynchronous: bool
) -> web.Response:
    dispatch = request.app[DISPATCH]
    partner = partner_id(request)
    mine = await owned_ids(request, body.ids)
    action = Action.START if body.action == "on" else Action.STOP
    params = _present(connectorId=body.connector_id, idTag=body.id_tag)
    orders = {cp: Order(new_id("cmd"), cp, action, params) for cp in body.ids if cp in mine}
    if orders:
        await dispatch.take(partner, list(orders.values()), _mode(asynchronous))
    settled: dict[str, Settled] = {}
    if asynchronous:
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
    response = json_response(answer, status=202 if asynchronous else 200)
    if asynchronous:
        response.headers.update(_accepted_headers(None))
    return response


async def batch_control(request: web.Request) -> web.Response:
    """One on/off command for up to 1000 chargers, all sent at once; one rate-limit unit."""
    body = await read_json(request, BatchControlRequest)
    asynchronous = _asynchronous(request)
    key = idempotency.key_of(request)
    fingerprint = idempotency.fingerprint(
        request.method, request.path, body.model_dump_json(), _mode(asynchronous)
    )
    return await idempotency.once(
        request, key, fingerprint, lambda: _batch(request, body, asynchronous)
    )
