"""The admin API's chargers: register, list, read with their live state, decommission,
assign to a partner and unassign, and set their password."""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from gateway import cursors
from gateway.admin_schemas import (
    AdminChargerDetailJson,
    AdminChargerJson,
    AdminChargerPage,
    ChargerAssign,
    ChargerPassword,
    ChargerRegister,
    ChargersQuery,
    RegisteredChargerJson,
)
from gateway.api import Endpoint, Reply
from gateway.charger_reports import charger_reports
from gateway.errors import ApiError
from gateway.fleet import admin_chargers, scan_page
from gateway.jsonio import json_response
from gateway.ownership import charger_id_of
from gateway.routes.admin.common import actor, after
from gateway.routes.chargers import statuses_of
from gateway.routes.params import CHARGER
from gateway.routes.paths import ADMIN
from gateway.schemas import ISO_EXAMPLE
from gateway.state import KEYS, NODES, POOL, REDIS, SETTINGS
from shared import registry

_CHARGER_EXAMPLE = {
    "chargerId": "CP-0001",
    "partnerId": "acme",
    "protocol": "ocpp1.6",
    "vendor": "ACME",
    "model": "Wallbox 22",
    "hasPassword": True,
    "registeredAt": ISO_EXAMPLE,
    "assignedAt": ISO_EXAMPLE,
    "removedAt": None,
    "online": True,
    "status": "AVAILABLE",
    "connectors": [
        {"connectorId": 1, "status": "AVAILABLE", "ocppStatus": "Available", "transactionId": None}
    ],
    "meterKwh": 1234.5,
    "meterTimestamp": ISO_EXAMPLE,
    "node": "csms-1",
    "lastSeen": ISO_EXAMPLE,
    "firmwareVersion": "1.4.2",
}
_REPORTS_EXAMPLE = {
    "firmwareUpdate": {"status": "Installed", "requestId": 42, "at": ISO_EXAMPLE},
    "lastUpload": {"kind": "Log", "status": "Uploaded", "requestId": 7, "at": ISO_EXAMPLE},
    "lastReport": {"requestId": 9, "seqNo": 0, "more": False, "items": 31, "at": ISO_EXAMPLE},
    "lastEvent": None,
    "securityEvents": [
        {
            "type": "FirmwareUpdated",
            "timestamp": ISO_EXAMPLE,
            "techInfo": None,
            "at": ISO_EXAMPLE,
        }
    ],
}
_NO_CHARGER = {404: "No such charger"}


async def _with_live(
    request: web.Request, records: Sequence[registry.ChargerRecord]
) -> list[AdminChargerJson]:
    app = request.app
    alive, grace = app[NODES].alive, app[SETTINGS].offline_grace
    return await admin_chargers(app[REDIS], app[KEYS], records, alive, grace)


async def _one(request: web.Request, record: registry.ChargerRecord) -> AdminChargerJson:
    return (await _with_live(request, [record]))[0]


def _generate(body: ChargerPassword) -> bool:
    """Whether to generate a password: neither one given nor none asked for."""
    if body.no_password and body.password is not None:
        raise ApiError(400, "password and noPassword exclude each other")
    return body.password is None and not body.no_password


async def register_charger(request: web.Request) -> web.Response:
    body = await REGISTER_CHARGER.body_of(request)
    generate = _generate(body)
    app = request.app
    password = await registry.register_charger(
        app[POOL],
        app[REDIS],
        app[KEYS],
        body.charger_id,
        protocol=body.protocol,
        password=body.password,
        partner_id=body.partner_id,
        generate=generate,
        actor=actor(request),
    )
    answer: RegisteredChargerJson = {
        "charger": await _one(request, await registry.get_charger(app[POOL], body.charger_id)),
        "password": password,
    }
    return json_response(answer, status=201)


REGISTER_CHARGER = Endpoint(
    "POST",
    f"{ADMIN}/chargers",
    register_charger,
    "adminRegisterCharger",
    "Register a charger (and optionally assign it)",
    "admin: chargers",
    access="admin",
    description="Without `password` (and without `noPassword`) a password is generated and"
    " answered once; the charger authenticates with HTTP Basic (id, password).",
    body=ChargerRegister,
    body_example={"chargerId": "CP-0001", "protocol": "ocpp1.6", "partnerId": "acme"},
    replies={
        201: Reply(
            "Registered",
            RegisteredChargerJson,
            {"charger": _CHARGER_EXAMPLE, "password": "pW9x-3kLq8ZrT2vNm4Yb"},
        )
    },
    errors={
        404: "No such partner",
        409: "The charger is registered already, or the partner's quota is full",
    },
)


async def list_chargers(request: web.Request) -> web.Response:
    query = LIST_CHARGERS.query_of(request)
    wanted = statuses_of(query.status)

    async def fetch(after: str, n: int) -> list[registry.ChargerRecord]:
        return await registry.list_chargers(
            request.app[POOL],
            partner_id=query.partner_id,
            include_removed=query.include_removed,
            search=query.q,
            after=after,
            limit=n,
        )

    async def render(
        records: Sequence[registry.ChargerRecord],
    ) -> list[AdminChargerJson | None]:
        return [
            c
            if (wanted is None or c["status"] in wanted)
            and (query.online is None or c["online"] == query.online)
            else None
            for c in await _with_live(request, records)
        ]

    page, last = await scan_page(
        fetch,
        lambda record: record.id,
        render,
        query.limit,
        after(query.cursor),
        filtered=wanted is not None or query.online is not None,
    )
    answer: AdminChargerPage = {
        "chargers": page,
        "nextCursor": cursors.encode(last) if last is not None else None,
    }
    return json_response(answer)


LIST_CHARGERS = Endpoint(
    "GET",
    f"{ADMIN}/chargers",
    list_chargers,
    "adminListChargers",
    "List registered chargers, with their live state",
    "admin: chargers",
    access="admin",
    description="In charger id order, `limit` at a time; pass `nextCursor` as `cursor` for"
    " the next page. `partnerId` and `q` are answered by the database; `status` and `online`"
    " from the live state in Redis, looking at up to 10,000 chargers per page, so a page of a"
    " rare status may come short (or empty) with a `nextCursor` to go on with.",
    query=ChargersQuery,
    replies={
        200: Reply(
            "A page of chargers",
            AdminChargerPage,
            {"chargers": [_CHARGER_EXAMPLE], "nextCursor": None},
        )
    },
)


async def get_charger(request: web.Request) -> web.Response:
    pool = request.app[POOL]
    charger = await registry.get_charger(pool, charger_id_of(request))
    detail: AdminChargerDetailJson = {
        **await _one(request, charger),
        "reports": await charger_reports(pool, charger.id),
    }
    return json_response(detail)


GET_CHARGER = Endpoint(
    "GET",
    f"{ADMIN}/chargers/{{chargerId}}",
    get_charger,
    "adminGetCharger",
    "A registered charger, with its live state",
    "admin: chargers",
    access="admin",
    description="Whether it is connected and on which csms node, its status, when it last"
    " sent anything and its firmware, from the live state in Redis; and what it last"
    " reported for its operator: firmware update state, the last diagnostics or log upload,"
    " the last configuration report (NotifyReport) and NotifyEvent, and recent security"
    " events.",
    params=(CHARGER,),
    replies={
        200: Reply(
            "The charger",
            AdminChargerDetailJson,
            {**_CHARGER_EXAMPLE, "reports": _REPORTS_EXAMPLE},
        )
    },
    errors=_NO_CHARGER,
)


async def decommission_charger(request: web.Request) -> web.Response:
    app = request.app
    charger = await registry.decommission_charger(
        app[POOL], app[REDIS], app[KEYS], charger_id_of(request), actor=actor(request)
    )
    return json_response(await _one(request, charger))


DECOMMISSION_CHARGER = Endpoint(
    "DELETE",
    f"{ADMIN}/chargers/{{chargerId}}",
    decommission_charger,
    "adminDecommissionCharger",
    "Decommission a charger: REMOVED for its partner, refused by csms from now on",
    "admin: chargers",
    access="admin",
    params=(CHARGER,),
    replies={
        200: Reply(
            "Decommissioned",
            AdminChargerJson,
            {**_CHARGER_EXAMPLE, "removedAt": ISO_EXAMPLE},
        )
    },
    errors={**_NO_CHARGER, 409: "Already decommissioned"},
)


async def assign_charger(request: web.Request) -> web.Response:
    charger_id = charger_id_of(request)
    body = await ASSIGN_CHARGER.body_of(request)
    app = request.app
    charger = await registry.assign_charger(
        app[POOL], app[REDIS], app[KEYS], charger_id, body.partner_id, actor=actor(request)
    )
    return json_response(await _one(request, charger))


ASSIGN_CHARGER = Endpoint(
    "PUT",
    f"{ADMIN}/chargers/{{chargerId}}/partner",
    assign_charger,
    "adminAssignCharger",
    "Assign a charger to a partner (within its quota)",
    "admin: chargers",
    access="admin",
    params=(CHARGER,),
    body=ChargerAssign,
    body_example={"partnerId": "acme"},
    replies={200: Reply("The charger", AdminChargerJson, _CHARGER_EXAMPLE)},
    errors={
        404: "No such charger or partner",
        409: "The partner's quota is full, or the charger is decommissioned",
    },
)


async def unassign_charger(request: web.Request) -> web.Response:
    app = request.app
    charger = await registry.assign_charger(
        app[POOL], app[REDIS], app[KEYS], charger_id_of(request), None, actor=actor(request)
    )
    return json_response(await _one(request, charger))


UNASSIGN_CHARGER = Endpoint(
    "DELETE",
    f"{ADMIN}/chargers/{{chargerId}}/partner",
    unassign_charger,
    "adminUnassignCharger",
    "Unassign a charger from its partner",
    "admin: chargers",
    access="admin",
    params=(CHARGER,),
    replies={
        200: Reply(
            "The charger",
            AdminChargerJson,
            {**_CHARGER_EXAMPLE, "partnerId": None, "assignedAt": None},
        )
    },
    errors={**_NO_CHARGER, 409: "The charger is decommissioned"},
)


async def set_password(request: web.Request) -> web.Response:
    charger_id = charger_id_of(request)
    body = await SET_PASSWORD.body_of(request)
    app = request.app
    charger, password = await registry.set_charger_password(
        app[POOL],
        app[REDIS],
        app[KEYS],
        charger_id,
        password=body.password,
        generate=_generate(body),
        actor=actor(request),
    )
    answer: RegisteredChargerJson = {"charger": await _one(request, charger), "password": password}
    return json_response(answer)


SET_PASSWORD = Endpoint(
    "PUT",
    f"{ADMIN}/chargers/{{chargerId}}/password",
    set_password,
    "adminSetChargerPassword",
    "Set, regenerate or remove a charger's password",
    "admin: chargers",
    access="admin",
    description="Stored only as a hash. The charger's next connection must present the new"
    " password; a connection already open stays open. Without `password` (and without"
    " `noPassword`) one is generated and answered once.",
    params=(CHARGER,),
    body=ChargerPassword,
    body_example={},
    replies={
        200: Reply(
            "The new password is in force",
            RegisteredChargerJson,
            {"charger": _CHARGER_EXAMPLE, "password": "pW9x-3kLq8ZrT2vNm4Yb"},
        )
    },
    errors={**_NO_CHARGER, 409: "The charger is decommissioned"},
)
