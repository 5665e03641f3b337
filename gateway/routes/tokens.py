"""A partner's own drivers' tokens (RFID idTags / idTokens), in the manner of the OCPI Tokens
module: put, read, change, list, and the sessions they started on any charger. Another
partner's token is a 404, indistinguishable from one that does not exist."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from gateway import cursors
from gateway.api import Endpoint, Reply
from gateway.errors import ApiError
from gateway.history import SESSIONS_BEFORE, SESSIONS_ORDER, session_page, window
from gateway.history_schemas import HistoryQuery, SessionPage
from gateway.jsonio import json_response
from gateway.ownership import token_id_of
from gateway.routes.history import SESSION_EXAMPLE
from gateway.routes.params import TOKEN
from gateway.routes.paths import API
from gateway.state import KEYS, POOL, REDIS, partner_id
from gateway.token_schemas import (
    TOKEN_EXAMPLE,
    PartnerTokenPut,
    PartnerTokensQuery,
    PartnerTokenUpdate,
    TokenJson,
    TokenPage,
    token_json,
)
from shared import registry
from shared.ids import token_uid

_NOT_THEIRS = {404: "The token is unknown or not the partner's"}


def _actor(request: web.Request) -> str:
    return f"partner:{partner_id(request)}"


async def put_token(request: web.Request) -> web.Response:
    token_id = token_id_of(request)
    body = await PUT_TOKEN.body_of(request)
    app = request.app
    token, created = await registry.put_token(
        app[POOL],
        app[REDIS],
        app[KEYS],
        token_id,
        {
            "status": body.status,
            "type": body.type,
            "expires_at": body.expires_at,
            "group_id": body.group_id,
        },
        owner=partner_id(request),
        actor=_actor(request),
    )
    return json_response(token_json(token), status=201 if created else 200)


PUT_TOKEN = Endpoint(
    "PUT",
    f"{API}/tokens/{{tokenId}}",
    put_token,
    "putToken",
    "Register or replace one of the partner's tokens",
    "tokens",
    access="partner",
    description="The whole token: fields left out take their defaults. From the next"
    " Authorize on, every charger answers it from this. An id another partner (or the"
    " operator) holds is a 404, as for one that does not exist.",
    params=(TOKEN,),
    body=PartnerTokenPut,
    body_example={"status": "Accepted", "groupId": "FLEET-7"},
    replies={
        200: Reply("Replaced", TokenJson, TOKEN_EXAMPLE),
        201: Reply("Registered", TokenJson, TOKEN_EXAMPLE),
    },
    errors=_NOT_THEIRS,
)


async def get_token(request: web.Request) -> web.Response:
    token = await registry.get_token(
        request.app[POOL], token_id_of(request), owner=partner_id(request)
    )
    return json_response(token_json(token))


GET_TOKEN = Endpoint(
    "GET",
    f"{API}/tokens/{{tokenId}}",
    get_token,
    "getToken",
    "One of the partner's tokens",
    "tokens",
    access="partner",
    params=(TOKEN,),
    replies={200: Reply("The token", TokenJson, TOKEN_EXAMPLE)},
    errors=_NOT_THEIRS,
)


async def update_token(request: web.Request) -> web.Response:
    token_id = token_id_of(request)
    body = await UPDATE_TOKEN.body_of(request)
    app = request.app
    token = await registry.update_token(
        app[POOL],
        app[REDIS],
        app[KEYS],
        token_id,
        body.changes(),
        owner=partner_id(request),
        actor=_actor(request),
    )
    return json_response(token_json(token))


UPDATE_TOKEN = Endpoint(
    "PATCH",
    f"{API}/tokens/{{tokenId}}",
    update_token,
    "updateToken",
    "Change one of the partner's tokens (e.g. block a lost card)",
    "tokens",
    access="partner",
    description="Only the fields sent change; null clears an expiry or a group.",
    params=(TOKEN,),
    body=PartnerTokenUpdate,
    body_example={"status": "Blocked"},
    replies={200: Reply("The token", TokenJson, {**TOKEN_EXAMPLE, "status": "Blocked"})},
    errors=_NOT_THEIRS,
)


async def list_tokens(request: web.Request) -> web.Response:
    query = LIST_TOKENS.query_of(request)
    after = ""
    if query.cursor is not None:
        [last] = cursors.decode(query.cursor, 1)
        if not isinstance(last, str):
            raise ApiError(400, "cursor: not a cursor this API returned")
        after = last
    found = await registry.list_tokens(
        request.app[POOL],
        partner_id=partner_id(request),
        status=query.status,
        group_id=query.group_id,
        after=after,
        limit=query.limit + 1,
    )
    page = found[: query.limit]
    answer: TokenPage = {
        "tokens": [token_json(t) for t in page],
        "nextCursor": cursors.encode(page[-1].id) if len(found) > query.limit else None,
    }
    return json_response(answer)


LIST_TOKENS = Endpoint(
    "GET",
    f"{API}/tokens",
    list_tokens,
    "listTokens",
    "List the partner's tokens",
    "tokens",
    access="partner",
    description="In id order, `limit` at a time; pass `nextCursor` as `cursor` for the next page.",
    query=PartnerTokensQuery,
    replies={
        200: Reply("A page of tokens", TokenPage, {"tokens": [TOKEN_EXAMPLE], "nextCursor": None})
    },
)


async def token_sessions(request: web.Request) -> web.Response:
    token_id = token_id_of(request)
    query = TOKEN_SESSIONS.query_of(request)
    partner = partner_id(request)
    await registry.get_token(request.app[POOL], token_id, owner=partner)
    start, to = window(query, datetime.now(UTC))
    before = cursors.session_key(query.cursor)
    rows = await request.app[POOL].fetch(
        "SELECT * FROM transactions"
        " WHERE token_partner_id = $1 AND upper(id_tag) = $2"
        " AND started_at >= $3 AND started_at < $4"
        f" AND {SESSIONS_BEFORE.format(at='$5', tx='$6', cp='$7')}"
        f" ORDER BY {SESSIONS_ORDER} LIMIT $8",
        partner,
        token_uid(token_id),
        start,
        to,
        *(before or (None, None, None)),
        query.limit + 1,
    )
    return json_response(session_page(rows, query.limit))


TOKEN_SESSIONS = Endpoint(
    "GET",
    f"{API}/tokens/{{tokenId}}/sessions",
    token_sessions,
    "getTokenSessions",
    "The sessions one of the partner's tokens started, on any charger",
    "tokens",
    access="partner",
    description="Sessions that started in the window with the token while it was the"
    " partner's, newest first, whoever's charger they ran on.",
    query=HistoryQuery,
    params=(TOKEN,),
    replies={
        200: Reply(
            "A page of sessions", SessionPage, {"sessions": [SESSION_EXAMPLE], "nextCursor": None}
        )
    },
    errors=_NOT_THEIRS,
)
