"""The admin API: partners, their API keys, chargers and the audit log. Every change is
audited with the acting admin; registry errors become 400/404/409 (see gateway.errors)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from aiohttp import web

from gateway import cursors
from gateway.admin_schemas import (
    AdminChargerPage,
    AuditPage,
    AuditQuery,
    ChargerAssign,
    ChargerRegister,
    ChargersQuery,
    IssuedKeyJson,
    KeyIssue,
    KeyListJson,
    KeyRotate,
    KeysQuery,
    PartnerCreate,
    PartnerDeletedJson,
    PartnerPage,
    PartnersQuery,
    PartnerUpdate,
    RegisteredChargerJson,
    audit_json,
    charger_admin_json,
    key_json,
    partner_json,
)
from gateway.errors import ApiError
from gateway.jsonio import json_response, read_json, validate
from gateway.state import ADMIN_ACTOR, KEYS, POOL, REDIS, SETTINGS
from shared import registry
from shared.ids import PARTNER_ID_RE, valid_charger_id


def _actor(request: web.Request) -> str:
    return request[ADMIN_ACTOR]


def _defaults(request: web.Request) -> tuple[int, int]:
    s = request.app[SETTINGS]
    return s.rate_limit_minute, s.rate_limit_hour


def _partner_id(request: web.Request) -> str:
    partner = request.match_info["partnerId"]
    if not PARTNER_ID_RE.fullmatch(partner):
        raise ApiError(404, "partner not found")
    return partner


def _charger_id(request: web.Request) -> str:
    charger = request.match_info["chargerId"]
    if not valid_charger_id(charger):
        raise ApiError(404, "charger not found")
    return charger


def _after(cursor: str | None) -> str:
    if cursor is None:
        return ""
    [last] = cursors.decode(cursor, 1)
    if not isinstance(last, str):
        raise ApiError(400, "cursor: not a cursor this API returned")
    return last


# partners -----------------------------------------------------------------------------------


async def create_partner(request: web.Request) -> web.Response:
    body = await read_json(request, PartnerCreate)
    partner = await registry.create_partner(
        request.app[POOL],
        body.name,
        partner_id=body.id,
        charger_quota=body.charger_quota,
        rate_limit_minute=body.rate_limit_minute,
        rate_limit_hour=body.rate_limit_hour,
        actor=_actor(request),
    )
    return json_response(partner_json(partner, _defaults(request)), status=201)


async def list_partners(request: web.Request) -> web.Response:
    query = validate(PartnersQuery, dict(request.query))
    found = await registry.list_partners(
        request.app[POOL], status=query.status, after=_after(query.cursor), limit=query.limit + 1
    )
    page = found[: query.limit]
    answer: PartnerPage = {
        "partners": [partner_json(p, _defaults(request)) for p in page],
        "nextCursor": cursors.encode(page[-1].id) if len(found) > query.limit else None,
    }
    return json_response(answer)


async def get_partner(request: web.Request) -> web.Response:
    partner = await registry.get_partner(request.app[POOL], _partner_id(request))
    return json_response(partner_json(partner, _defaults(request)))


async def update_partner(request: web.Request) -> web.Response:
    partner_id = _partner_id(request)
    body = await read_json(request, PartnerUpdate)
    app = request.app
    partner = await registry.update_partner(
        app[POOL], app[REDIS], app[KEYS], partner_id, body.changes(), actor=_actor(request)
    )
    return json_response(partner_json(partner, _defaults(request)))


async def _set_status(request: web.Request, status: str) -> web.Response:
    app = request.app
    partner = await registry.set_partner_status(
        app[POOL], app[REDIS], app[KEYS], _partner_id(request), status, actor=_actor(request)
    )
    return json_response(partner_json(partner, _defaults(request)))


async def suspend_partner(request: web.Request) -> web.Response:
    return await _set_status(request, "suspended")


async def reactivate_partner(request: web.Request) -> web.Response:
    return await _set_status(request, "active")


async def delete_partner(request: web.Request) -> web.Response:
    app = request.app
    partner_id = _partner_id(request)
    result = await registry.delete_partner(
        app[POOL], app[REDIS], app[KEYS], partner_id, actor=_actor(request)
    )
    answer: PartnerDeletedJson = {
        "partnerId": partner_id,
        "keysRevoked": result["keysRevoked"],
        "chargersUnassigned": result["chargersUnassigned"],
    }
    return json_response(answer)


# API keys -----------------------------------------------------------------------------------


async def issue_key(request: web.Request) -> web.Response:
    partner_id = _partner_id(request)
    body = await read_json(request, KeyIssue)
    pool = request.app[POOL]
    key_id, key = await registry.issue_api_key(
        pool, partner_id, expires_at=body.expires_at, name=body.name, actor=_actor(request)
    )
    answer: IssuedKeyJson = {
        "key": key,
        "apiKey": key_json(await registry.get_key(pool, key_id)),
        "previous": None,
    }
    return json_response(answer, status=201)


async def list_partner_keys(request: web.Request) -> web.Response:
    keys = await registry.list_keys(request.app[POOL], partner_id=_partner_id(request))
    answer: KeyListJson = {"keys": [key_json(k) for k in keys]}
    return json_response(answer)


async def find_keys(request: web.Request) -> web.Response:
    query = validate(KeysQuery, dict(request.query))
    keys = await registry.list_keys(request.app[POOL], prefix=query.prefix)
    answer: KeyListJson = {"keys": [key_json(k) for k in keys]}
    return json_response(answer)


_KEY_ID = re.compile(r"key_[0-9a-f]{16}")


def _key_id(request: web.Request) -> str:
    key_id = request.match_info["keyId"]
    if not _KEY_ID.fullmatch(key_id):
        raise ApiError(404, "API key not found")
    return key_id


async def rotate_key(request: web.Request) -> web.Response:
    key_id = _key_id(request)
    body = await read_json(request, KeyRotate)
    app = request.app
    new_id, key, previous = await registry.rotate_key(
        app[POOL],
        app[REDIS],
        app[KEYS],
        key_id,
        overlap=timedelta(seconds=body.overlap_seconds),
        expires_at=body.expires_at,
        actor=_actor(request),
    )
    answer: IssuedKeyJson = {
        "key": key,
        "apiKey": key_json(await registry.get_key(app[POOL], new_id)),
        "previous": key_json(previous),
    }
    return json_response(answer, status=201)


async def revoke_key(request: web.Request) -> web.Response:
    app = request.app
    info = await registry.revoke_key(
        app[POOL], app[REDIS], app[KEYS], _key_id(request), actor=_actor(request)
    )
    return json_response(key_json(info))


# chargers -----------------------------------------------------------------------------------


async def register_charger(request: web.Request) -> web.Response:
    body = await read_json(request, ChargerRegister)
    if body.no_password and body.password is not None:
        raise ApiError(400, "password and noPassword exclude each other")
    app = request.app
    password = await registry.register_charger(
        app[POOL],
        app[REDIS],
        app[KEYS],
        body.charger_id,
        protocol=body.protocol,
        password=body.password,
        partner_id=body.partner_id,
        generate=body.password is None and not body.no_password,
        actor=_actor(request),
    )
    answer: RegisteredChargerJson = {
        "charger": charger_admin_json(await registry.get_charger(app[POOL], body.charger_id)),
        "password": password,
    }
    return json_response(answer, status=201)


async def list_chargers(request: web.Request) -> web.Response:
    query = validate(ChargersQuery, dict(request.query))
    found = await registry.list_chargers(
        request.app[POOL],
        partner_id=query.partner_id,
        include_removed=query.include_removed,
        after=_after(query.cursor),
        limit=query.limit + 1,
    )
    page = found[: query.limit]
    answer: AdminChargerPage = {
        "chargers": [charger_admin_json(c) for c in page],
        "nextCursor": cursors.encode(page[-1].id) if len(found) > query.limit else None,
    }
    return json_response(answer)


async def get_charger(request: web.Request) -> web.Response:
    charger = await registry.get_charger(request.app[POOL], _charger_id(request))
    return json_response(charger_admin_json(charger))


async def assign_charger(request: web.Request) -> web.Response:
    charger_id = _charger_id(request)
    body = await read_json(request, ChargerAssign)
    app = request.app
    charger = await registry.assign_charger(
        app[POOL], app[REDIS], app[KEYS], charger_id, body.partner_id, actor=_actor(request)
    )
    return json_response(charger_admin_json(charger))


async def unassign_charger(request: web.Request) -> web.Response:
    app = request.app
    charger = await registry.assign_charger(
        app[POOL], app[REDIS], app[KEYS], _charger_id(request), None, actor=_actor(request)
    )
    return json_response(charger_admin_json(charger))


async def decommission_charger(request: web.Request) -> web.Response:
    app = request.app
    charger = await registry.decommission_charger(
        app[POOL], app[REDIS], app[KEYS], _charger_id(request), actor=_actor(request)
    )
    return json_response(charger_admin_json(charger))


# audit --------------------------------------------------------------------------------------


async def audit_log(request: web.Request) -> web.Response:
    query = validate(AuditQuery, dict(request.query))
    before = None
    if query.cursor is not None:
        at, ref = cursors.decode(query.cursor, 2)
        if not isinstance(at, str) or not isinstance(ref, str):
            raise ApiError(400, "cursor: not a cursor this API returned")
        try:
            before = (_datetime(at), ref)
        except ValueError:
            raise ApiError(400, "cursor: not a cursor this API returned") from None
    found = await registry.audit_entries(
        request.app[POOL],
        actor=query.actor,
        action=query.action,
        target=query.target,
        since=query.from_,
        until=query.to,
        before=before,
        limit=query.limit + 1,
    )
    page = found[: query.limit]
    answer: AuditPage = {
        "entries": [audit_json(e) for e in page],
        "nextCursor": (
            cursors.encode(page[-1].at.isoformat(), page[-1].ref)
            if len(found) > query.limit
            else None
        ),
    }
    return json_response(answer)


def _datetime(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError("naive")
    return value
