"""The admin API's API keys: issue, list, find by prefix, rotate, revoke."""

from __future__ import annotations

import re
from datetime import timedelta

from aiohttp import web

from gateway.admin_schemas import (
    IssuedKeyJson,
    KeyIssue,
    KeyJson,
    KeyListJson,
    KeyRotate,
    KeysQuery,
    key_json,
)
from gateway.api import Endpoint, Param, Reply
from gateway.errors import ApiError
from gateway.jsonio import json_response
from gateway.routes.admin.common import NO_PARTNER, actor, partner_id_of
from gateway.routes.params import PARTNER
from gateway.routes.paths import ADMIN
from gateway.schemas import ISO_EXAMPLE
from gateway.state import KEYS, POOL, REDIS
from shared import registry

KEY = Param(
    "keyId",
    "path",
    "The API key's id (never the key)",
    {"type": "string", "pattern": "^key_[0-9a-f]{16}$"},
    "key_8c1d2e3f4a5b6c7d",
)
_KEY_EXAMPLE = {
    "id": "key_8c1d2e3f4a5b6c7d",
    "partnerId": "acme",
    "prefix": "evcs_4kT9aB2x",
    "name": "production",
    "state": "active",
    "createdAt": ISO_EXAMPLE,
    "expiresAt": None,
    "revokedAt": None,
    "replacedBy": None,
}

_KEY_ID = re.compile(r"key_[0-9a-f]{16}")


def _key_id(request: web.Request) -> str:
    key_id = request.match_info["keyId"]
    if not _KEY_ID.fullmatch(key_id):
        raise ApiError(404, "API key not found")
    return key_id


async def issue_key(request: web.Request) -> web.Response:
    partner_id = partner_id_of(request)
    body = await ISSUE_KEY.body_of(request)
    pool = request.app[POOL]
    key_id, key = await registry.issue_api_key(
        pool, partner_id, expires_at=body.expires_at, name=body.name, actor=actor(request)
    )
    answer: IssuedKeyJson = {
        "key": key,
        "apiKey": key_json(await registry.get_key(pool, key_id)),
        "previous": None,
    }
    return json_response(answer, status=201)


ISSUE_KEY = Endpoint(
    "POST",
    f"{ADMIN}/partners/{{partnerId}}/keys",
    issue_key,
    "adminIssueKey",
    "Issue an API key (shown once)",
    "admin: API keys",
    access="admin",
    description="The answer holds the key itself; only its SHA-256 is stored, so it can"
    " never be shown again.",
    params=(PARTNER,),
    body=KeyIssue,
    body_example={"name": "production"},
    replies={
        201: Reply(
            "Issued",
            IssuedKeyJson,
            {"key": "evcs_4kT9aB2x…", "apiKey": _KEY_EXAMPLE, "previous": None},
        )
    },
    errors=NO_PARTNER,
)


async def list_partner_keys(request: web.Request) -> web.Response:
    keys = await registry.list_keys(request.app[POOL], partner_id=partner_id_of(request))
    answer: KeyListJson = {"keys": [key_json(k) for k in keys]}
    return json_response(answer)


LIST_PARTNER_KEYS = Endpoint(
    "GET",
    f"{ADMIN}/partners/{{partnerId}}/keys",
    list_partner_keys,
    "adminListPartnerKeys",
    "A partner's API keys (prefixes only)",
    "admin: API keys",
    access="admin",
    params=(PARTNER,),
    replies={200: Reply("The keys, newest first", KeyListJson, {"keys": [_KEY_EXAMPLE]})},
    errors=NO_PARTNER,
)


async def find_keys(request: web.Request) -> web.Response:
    query = FIND_KEYS.query_of(request)
    keys = await registry.list_keys(request.app[POOL], prefix=query.prefix)
    answer: KeyListJson = {"keys": [key_json(k) for k in keys]}
    return json_response(answer)


FIND_KEYS = Endpoint(
    "GET",
    f"{ADMIN}/keys",
    find_keys,
    "adminFindKeys",
    "Find API keys by prefix (e.g. a leaked key a scanner reported)",
    "admin: API keys",
    access="admin",
    query=KeysQuery,
    replies={200: Reply("Matching keys", KeyListJson, {"keys": [_KEY_EXAMPLE]})},
)


async def rotate_key(request: web.Request) -> web.Response:
    key_id = _key_id(request)
    body = await ROTATE_KEY.body_of(request)
    app = request.app
    new_id, key, previous = await registry.rotate_key(
        app[POOL],
        app[REDIS],
        app[KEYS],
        key_id,
        overlap=timedelta(seconds=body.overlap_seconds),
        expires_at=body.expires_at,
        actor=actor(request),
    )
    answer: IssuedKeyJson = {
        "key": key,
        "apiKey": key_json(await registry.get_key(app[POOL], new_id)),
        "previous": key_json(previous),
    }
    return json_response(answer, status=201)


ROTATE_KEY = Endpoint(
    "POST",
    f"{ADMIN}/keys/{{keyId}}/rotate",
    rotate_key,
    "adminRotateKey",
    "Rotate an API key: a new key, the old one working for an overlap window",
    "admin: API keys",
    access="admin",
    description="After the overlap the old key gets 401. The new key is shown once.",
    params=(KEY,),
    body=KeyRotate,
    body_example={"overlapSeconds": 86400},
    replies={
        201: Reply(
            "The new key, and the old one as it now stands",
            IssuedKeyJson,
            {
                "key": "evcs_9ZqP0cV1…",
                "apiKey": {**_KEY_EXAMPLE, "id": "key_1a2b3c4d5e6f7a8b"},
                "previous": {
                    **_KEY_EXAMPLE,
                    "state": "rotating",
                    "expiresAt": ISO_EXAMPLE,
                    "replacedBy": "key_1a2b3c4d5e6f7a8b",
                },
            },
        )
    },
    errors={404: "No such key", 409: "The key is revoked or already rotated"},
)


async def revoke_key(request: web.Request) -> web.Response:
    app = request.app
    info = await registry.revoke_key(
        app[POOL], app[REDIS], app[KEYS], _key_id(request), actor=actor(request)
    )
    return json_response(key_json(info))


REVOKE_KEY = Endpoint(
    "POST",
    f"{ADMIN}/keys/{{keyId}}/revoke",
    revoke_key,
    "adminRevokeKey",
    "Revoke an API key: 401 on every gateway at once",
    "admin: API keys",
    access="admin",
    params=(KEY,),
    replies={
        200: Reply(
            "The key, revoked",
            KeyJson,
            {**_KEY_EXAMPLE, "state": "revoked", "revokedAt": ISO_EXAMPLE},
        )
    },
    errors={404: "No such key"},
)
