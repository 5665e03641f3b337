"""The admin API's tokens (RFID idTags / idTokens): register, list, read, change, delete. A
change counts on every csms node at once: they read the token's Redis projection on every
Authorize."""

from __future__ import annotations

from aiohttp import web

from gateway import cursors
from gateway.api import Endpoint, Reply
from gateway.jsonio import json_response
from gateway.ownership import token_id_of
from gateway.routes.admin.common import actor, after
from gateway.routes.params import TOKEN
from gateway.routes.paths import ADMIN
from gateway.state import KEYS, POOL, REDIS
from gateway.token_schemas import (
    TOKEN_EXAMPLE,
    TokenCreate,
    TokenJson,
    TokenPage,
    TokensQuery,
    TokenUpdate,
    token_json,
)
from shared import registry

_NO_TOKEN = {404: "No such token"}


async def create_token(request: web.Request) -> web.Response:
    body = await CREATE_TOKEN.body_of(request)
    app = request.app
    token = await registry.create_token(
        app[POOL],
        app[REDIS],
        app[KEYS],
        body.id,
        status=body.status,
        type=body.type,
        expires_at=body.expires_at,
        group_id=body.group_id,
        partner_id=body.partner_id,
        actor=actor(request),
    )
    return json_response(token_json(token), status=201)


CREATE_TOKEN = Endpoint(
    "POST",
    f"{ADMIN}/tokens",
    create_token,
    "adminCreateToken",
    "Register a token (RFID idTag / idToken)",
    "admin: tokens",
    access="admin",
    description="Csms nodes answer Authorize, StartTransaction and TransactionEvent from the"
    " token store: a registered token gets its status, one nobody registered gets"
    " `EVCS_AUTHORIZE_UNKNOWN`'s answer.",
    body=TokenCreate,
    body_example={"id": "04A2B3C4D5E6F7", "status": "Accepted", "partnerId": "acme"},
    replies={201: Reply("Registered", TokenJson, TOKEN_EXAMPLE)},
    errors={404: "No such partner", 409: "A token with this id (in any case) exists"},
)


async def list_tokens(request: web.Request) -> web.Response:
    query = LIST_TOKENS.query_of(request)
    found = await registry.list_tokens(
        request.app[POOL],
        partner_id=query.partner_id,
        status=query.status,
        group_id=query.group_id,
        after=after(query.cursor),
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
    f"{ADMIN}/tokens",
    list_tokens,
    "adminListTokens",
    "List tokens",
    "admin: tokens",
    access="admin",
    query=TokensQuery,
    replies={
        200: Reply("A page of tokens", TokenPage, {"tokens": [TOKEN_EXAMPLE], "nextCursor": None})
    },
)


async def get_token(request: web.Request) -> web.Response:
    token = await registry.get_token(request.app[POOL], token_id_of(request))
    return json_response(token_json(token))


GET_TOKEN = Endpoint(
    "GET",
    f"{ADMIN}/tokens/{{tokenId}}",
    get_token,
    "adminGetToken",
    "A token",
    "admin: tokens",
    access="admin",
    params=(TOKEN,),
    replies={200: Reply("The token", TokenJson, TOKEN_EXAMPLE)},
    errors=_NO_TOKEN,
)


async def update_token(request: web.Request) -> web.Response:
    token_id = token_id_of(request)
    body = await UPDATE_TOKEN.body_of(request)
    app = request.app
    token = await registry.update_token(
        app[POOL], app[REDIS], app[KEYS], token_id, body.changes(), actor=actor(request)
    )
    return json_response(token_json(token))


UPDATE_TOKEN = Endpoint(
    "PATCH",
    f"{ADMIN}/tokens/{{tokenId}}",
    update_token,
    "adminUpdateToken",
    "Change a token: status, type, expiry, group or partner",
    "admin: tokens",
    access="admin",
    description="Only the fields sent change; null clears an expiry, a group or the partner."
    " The next Authorize on any csms node gets the new answer.",
    params=(TOKEN,),
    body=TokenUpdate,
    body_example={"status": "Blocked"},
    replies={200: Reply("The token", TokenJson, {**TOKEN_EXAMPLE, "status": "Blocked"})},
    errors={404: "No such token or partner"},
)


async def delete_token(request: web.Request) -> web.Response:
    app = request.app
    token = await registry.delete_token(
        app[POOL], app[REDIS], app[KEYS], token_id_of(request), actor=actor(request)
    )
    return json_response(token_json(token))


DELETE_TOKEN = Endpoint(
    "DELETE",
    f"{ADMIN}/tokens/{{tokenId}}",
    delete_token,
    "adminDeleteToken",
    "Delete a token: unknown from now on",
    "admin: tokens",
    access="admin",
    params=(TOKEN,),
    replies={200: Reply("The token as it was", TokenJson, TOKEN_EXAMPLE)},
    errors=_NO_TOKEN,
)
