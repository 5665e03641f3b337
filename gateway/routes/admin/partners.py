"""The admin API's partners: create, list, read, change, suspend, reactivate, delete."""

from __future__ import annotations

from aiohttp import web

from gateway import cursors
from gateway.admin_schemas import (
    PartnerCreate,
    PartnerDeletedJson,
    PartnerJson,
    PartnerPage,
    PartnersQuery,
    PartnerUpdate,
    partner_json,
)
from gateway.api import Endpoint, Reply
from gateway.jsonio import json_response
from gateway.routes.admin.common import NO_PARTNER, actor, after, default_limits, partner_id_of
from gateway.routes.params import PARTNER
from gateway.routes.paths import ADMIN
from gateway.schemas import ISO_EXAMPLE
from gateway.state import KEYS, POOL, REDIS
from shared import registry

_PARTNER_EXAMPLE = {
    "id": "acme",
    "name": "ACME Mobility",
    "status": "active",
    "chargerQuota": 1000,
    "rateLimitMinute": None,
    "rateLimitHour": None,
    "effectiveRateLimits": {"perMinute": 100, "perHour": 1000},
    "chargers": 12,
    "createdAt": ISO_EXAMPLE,
}


async def create_partner(request: web.Request) -> web.Response:
    body = await CREATE_PARTNER.body_of(request)
    partner = await registry.create_partner(
        request.app[POOL],
        body.name,
        partner_id=body.id,
        charger_quota=body.charger_quota,
        rate_limit_minute=body.rate_limit_minute,
        rate_limit_hour=body.rate_limit_hour,
        actor=actor(request),
    )
    return json_response(partner_json(partner, default_limits(request)), status=201)


CREATE_PARTNER = Endpoint(
    "POST",
    f"{ADMIN}/partners",
    create_partner,
    "adminCreatePartner",
    "Create a partner",
    "admin: partners",
    access="admin",
    body=PartnerCreate,
    body_example={"id": "acme", "name": "ACME Mobility", "chargerQuota": 1000},
    replies={201: Reply("Created", PartnerJson, _PARTNER_EXAMPLE)},
    errors={409: "A partner with this id exists"},
)


async def list_partners(request: web.Request) -> web.Response:
    query = LIST_PARTNERS.query_of(request)
    found = await registry.list_partners(
        request.app[POOL], status=query.status, after=after(query.cursor), limit=query.limit + 1
    )
    page = found[: query.limit]
    answer: PartnerPage = {
        "partners": [partner_json(p, default_limits(request)) for p in page],
        "nextCursor": cursors.encode(page[-1].id) if len(found) > query.limit else None,
    }
    return json_response(answer)


LIST_PARTNERS = Endpoint(
    "GET",
    f"{ADMIN}/partners",
    list_partners,
    "adminListPartners",
    "List partners",
    "admin: partners",
    access="admin",
    query=PartnersQuery,
    replies={
        200: Reply(
            "A page of partners",
            PartnerPage,
            {"partners": [_PARTNER_EXAMPLE], "nextCursor": None},
        )
    },
)


async def get_partner(request: web.Request) -> web.Response:
    partner = await registry.get_partner(request.app[POOL], partner_id_of(request))
    return json_response(partner_json(partner, default_limits(request)))


GET_PARTNER = Endpoint(
    "GET",
    f"{ADMIN}/partners/{{partnerId}}",
    get_partner,
    "adminGetPartner",
    "A partner",
    "admin: partners",
    access="admin",
    params=(PARTNER,),
    replies={200: Reply("The partner", PartnerJson, _PARTNER_EXAMPLE)},
    errors=NO_PARTNER,
)


async def update_partner(request: web.Request) -> web.Response:
    partner_id = partner_id_of(request)
    body = await UPDATE_PARTNER.body_of(request)
    app = request.app
    partner = await registry.update_partner(
        app[POOL], app[REDIS], app[KEYS], partner_id, body.changes(), actor=actor(request)
    )
    return json_response(partner_json(partner, default_limits(request)))


UPDATE_PARTNER = Endpoint(
    "PATCH",
    f"{ADMIN}/partners/{{partnerId}}",
    update_partner,
    "adminUpdatePartner",
    "Change a partner's name, charger quota or rate limits",
    "admin: partners",
    access="admin",
    description="New limits apply on every gateway at once.",
    params=(PARTNER,),
    body=PartnerUpdate,
    body_example={"rateLimitMinute": 600, "rateLimitHour": 20000},
    replies={200: Reply("The partner", PartnerJson, _PARTNER_EXAMPLE)},
    errors=NO_PARTNER,
)


async def _set_status(request: web.Request, status: str) -> web.Response:
    app = request.app
    partner = await registry.set_partner_status(
        app[POOL], app[REDIS], app[KEYS], partner_id_of(request), status, actor=actor(request)
    )
    return json_response(partner_json(partner, default_limits(request)))


async def suspend_partner(request: web.Request) -> web.Response:
    return await _set_status(request, "suspended")


SUSPEND_PARTNER = Endpoint(
    "POST",
    f"{ADMIN}/partners/{{partnerId}}/suspend",
    suspend_partner,
    "adminSuspendPartner",
    "Suspend a partner: its keys get 403 on every gateway at once",
    "admin: partners",
    access="admin",
    params=(PARTNER,),
    replies={200: Reply("The partner", PartnerJson, {**_PARTNER_EXAMPLE, "status": "suspended"})},
    errors=NO_PARTNER,
)


async def reactivate_partner(request: web.Request) -> web.Response:
    return await _set_status(request, "active")


REACTIVATE_PARTNER = Endpoint(
    "POST",
    f"{ADMIN}/partners/{{partnerId}}/reactivate",
    reactivate_partner,
    "adminReactivatePartner",
    "Reactivate a suspended partner",
    "admin: partners",
    access="admin",
    params=(PARTNER,),
    replies={200: Reply("The partner", PartnerJson, _PARTNER_EXAMPLE)},
    errors=NO_PARTNER,
)


async def delete_partner(request: web.Request) -> web.Response:
    app = request.app
    partner_id = partner_id_of(request)
    result = await registry.delete_partner(
        app[POOL], app[REDIS], app[KEYS], partner_id, actor=actor(request)
    )
    answer: PartnerDeletedJson = {
        "partnerId": partner_id,
        "keysRevoked": result["keysRevoked"],
        "chargersUnassigned": result["chargersUnassigned"],
    }
    return json_response(answer)


DELETE_PARTNER = Endpoint(
    "DELETE",
    f"{ADMIN}/partners/{{partnerId}}",
    delete_partner,
    "adminDeletePartner",
    "Delete a partner: its keys are revoked and its chargers unassigned",
    "admin: partners",
    access="admin",
    params=(PARTNER,),
    replies={
        200: Reply(
            "Deleted",
            PartnerDeletedJson,
            {"partnerId": "acme", "keysRevoked": 2, "chargersUnassigned": 12},
        )
    },
    errors=NO_PARTNER,
)
