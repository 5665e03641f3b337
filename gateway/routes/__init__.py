"""The route table, in one place: every endpoint with who may call it and what OpenAPI says
about it. Order matters: `/chargers/batch/...` comes before `/chargers/{chargerId}/...`, or
"batch" would be read as a charger id."""

from __future__ import annotations

from aiohttp import web

from gateway import admin_schemas as adm
from gateway import charger_schemas, command_schemas, event_schemas, history_schemas
from gateway import schemas as s
from gateway.api import Endpoint, Param, Reply, Route, serve
from gateway.routes import admin, chargers, commands, control, docs, events, history, ops
from gateway.routes.paths import ADMIN, API
from shared.ids import PARTNER_ID_RE

CHARGER = Param(
    "chargerId",
    "path",
    "The charger's id. Unknown ids and other partners' chargers alike are 404.",
    {"type": "string", "pattern": s.CHARGER_ID_PATTERN, "maxLength": 48},
    "CP-0001",
)
COMMAND = Param(
    "commandId",
    "path",
    "A command id from a command's answer",
    {"type": "string", "pattern": commands.COMMAND_ID_PATTERN},
    "cmd_5f2b9c0a1d3e4f60",
)
PARTNER = Param(
    "partnerId",
    "path",
    "The partner's id",
    {"type": "string", "pattern": PARTNER_ID_RE.pattern},
    "acme",
)
KEY = Param(
    "keyId",
    "path",
    "The API key's id (never the key)",
    {"type": "string", "pattern": "^key_[0-9a-f]{16}$"},
    "key_8c1d2e3f4a5b6c7d",
)
IDEMPOTENCY_KEY = Param(
    "Idempotency-Key",
    "header",
    "Your unique id for this request (e.g. a UUID). Sent again with the same body within"
    " 24 h, it replays the first answer (Idempotent-Replayed: true) without sending the command"
    " again; with another body it is 422; while the first is still running, 409.",
    {"type": "string", "pattern": "^[!-~]{1,255}$"},
    "7d0c2f52-3c1e-4d7b-9a55-0f4e8a3b6c21",
)
PREFER = Param(
    "Prefer",
    "header",
    "`respond-async`: answer 202 at once (as ?mode=async does; an explicit mode wins)",
    {"type": "string"},
    "respond-async",
)
LAST_EVENT_ID = Param(
    "Last-Event-ID",
    "header",
    "Resume after this event: the `id` of the last event received (EventSource clients send"
    " it on reconnection by themselves). Events stay resumable for the stream retention"
    " (default 10 minutes); older positions get a `gap` event first.",
    {"type": "string", "pattern": "^[0-9]+-[0-9]+(,[0-9]+-[0-9]+)*$"},
    "1767225600000-0",
)

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
    "meterTimestamp": s.ISO_EXAMPLE,
    "statusTimestamp": s.ISO_EXAMPLE,
    "lastSeen": s.ISO_EXAMPLE,
}
_COMMAND_RESULT = {
    "commandId": "cmd_5f2b9c0a1d3e4f60",
    "chargerId": "CP-0001",
    "action": "on",
    "status": "Accepted",
    "outcome": "ACCEPTED",
    "ocppAction": "RemoteStartTransaction",
    "chargerResponse": {"status": "Accepted"},
}
_COMMAND_ACCEPTED = {
    "commandId": "cmd_5f2b9c0a1d3e4f60",
    "chargerId": "CP-0001",
    "action": "on",
    "state": "PENDING",
    "location": "/api/v1/commands/cmd_5f2b9c0a1d3e4f60",
}
_COMMAND_ERRORS = {
    404: "The charger is unknown or not the partner's",
    409: "The charger is not connected (outcome EVSE_OFFLINE) or the command does not apply"
    " to its state (NOT_SUPPORTED); or a request with the same Idempotency-Key is still running",
    422: "The Idempotency-Key was used with a different request",
    502: "The charger answered with an OCPP error (outcome FAILED)",
    503: "The charger's csms node is unreachable (outcome FAILED); nothing was sent",
    504: "No answer from the charger (or its node) in time (outcome TIMEOUT)",
}
_SYNC_OR_ASYNC = (
    "Synchronous by default: the answer is the charger's (Accepted or Rejected) and other"
    " outcomes are errors carrying `commandId` and `outcome`. With `?mode=async` or"
    " `Prefer: respond-async` the answer is 202 with a command id at once; the outcome then"
    " arrives as a `command` event on GET /events and at GET /commands/{commandId}."
)
_ADMIN_PARTNER = {
    "id": "acme",
    "name": "ACME Mobility",
    "status": "active",
    "chargerQuota": 1000,
    "rateLimitMinute": None,
    "rateLimitHour": None,
    "effectiveRateLimits": {"perMinute": 100, "perHour": 1000},
    "chargers": 12,
    "createdAt": s.ISO_EXAMPLE,
}
_ADMIN_KEY = {
    "id": "key_8c1d2e3f4a5b6c7d",
    "partnerId": "acme",
    "prefix": "evcs_4kT9aB2x",
    "name": "production",
    "state": "active",
    "createdAt": s.ISO_EXAMPLE,
    "expiresAt": None,
    "revokedAt": None,
    "replacedBy": None,
}
_ADMIN_CHARGER = {
    "chargerId": "CP-0001",
    "partnerId": "acme",
    "protocol": "ocpp1.6",
    "vendor": "ACME",
    "model": "Wallbox 22",
    "hasPassword": True,
    "registeredAt": s.ISO_EXAMPLE,
    "assignedAt": s.ISO_EXAMPLE,
    "removedAt": None,
}
_NO_PARTNER = {404: "No such partner"}
_NO_CHARGER = {404: "No such charger"}

PARTNER_ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "GET",
        f"{API}/health",
        ops.health,
        "health",
        "Liveness",
        "operations",
        access="public",
        description="200 while the process serves requests. No key needed.",
        replies={200: Reply("Alive", s.HealthJson, {"status": "ok"})},
    ),
    Endpoint(
        "GET",
        f"{API}/health/ready",
        ops.ready,
        "ready",
        "Readiness: Redis and PostgreSQL answer",
        "operations",
        access="public",
        replies={
            200: Reply(
                "Ready",
                s.ReadyJson,
                {"status": "ok", "checks": {"redis": "ok", "postgresql": "ok"}},
            )
        },
        errors={503: "Not ready: `checks` names what is unavailable"},
    ),
    Endpoint(
        "GET",
        f"{API}/chargers",
        chargers.list_chargers,
        "listChargers",
        "List the partner's chargers with their status",
        "chargers",
        access="partner",
        description="In charger id order, `limit` at a time; pass `nextCursor` as `cursor` for"
        " the next page. Decommissioned chargers are not listed.",
        query=charger_schemas.ListQuery,
        replies={
            200: Reply(
                "A page of chargers",
                charger_schemas.ChargerPage,
                {"chargers": [_CHARGER_EXAMPLE], "nextCursor": "Q1AtMDAwMQ"},
            )
        },
    ),
    Endpoint(
        "GET",
        f"{API}/chargers/batch/status",
        chargers.batch_status_get,
        "batchStatusGet",
        "Status of several chargers (ids in the query)",
        "chargers",
        access="partner",
        description="Ids that are unknown or another partner's are listed in `notFound`,"
        " indistinguishably. Counts as one request for rate limiting.",
        query=charger_schemas.BatchStatusQuery,
        replies={
            200: Reply(
                "The chargers found and the ids not found",
                charger_schemas.BatchStatusJson,
                {"chargers": [_CHARGER_EXAMPLE], "notFound": ["CP-9999"]},
            )
        },
    ),
    Endpoint(
        "POST",
        f"{API}/chargers/batch/status",
        chargers.batch_status_post,
        "batchStatusPost",
        "Status of up to 1000 chargers (ids in the body)",
        "chargers",
        access="partner",
        description="As the GET, for lists too long for a URL. Counts as one request.",
        body=charger_schemas.BatchStatusRequest,
        body_example={"ids": ["CP-0001", "CP-9999"]},
        replies={
            200: Reply(
                "The chargers found and the ids not found",
                charger_schemas.BatchStatusJson,
                {"chargers": [_CHARGER_EXAMPLE], "notFound": ["CP-9999"]},
            )
        },
    ),
    Endpoint(
        "POST",
        f"{API}/chargers/batch/control",
        control.batch_control,
        "batchControl",
        "Switch up to 1000 chargers on or off",
        "commands",
        access="partner",
        description="Sends the command to every one of the partner's chargers among `ids` at"
        " once and reports each outcome (`state`, and the `httpStatus` it would have alone);"
        " other ids are NOT_FOUND. With `?mode=async` / `Prefer: respond-async`: 202 with a"
        " command id per charger, outcomes on /events and /commands/{commandId}. Honours"
        " Idempotency-Key. Counts as one request for rate limiting.",
        query=command_schemas.CommandQuery,
        body=command_schemas.BatchControlRequest,
        body_example={"ids": ["CP-0001", "CP-0002"], "action": "off"},
        params=(IDEMPOTENCY_KEY, PREFER),
        replies={
            200: Reply(
                "Every charger's outcome",
                command_schemas.BatchControlJson,
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
                command_schemas.BatchControlJson,
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
    ),
    Endpoint(
        "GET",
        f"{API}/chargers/{{chargerId}}/status",
        chargers.charger_status,
        "getChargerStatus",
        "A charger's status, connectors, meter and timestamps",
        "chargers",
        access="partner",
        description="Read from the live state in Redis: no database query.",
        params=(CHARGER,),
        replies={200: Reply("The charger", charger_schemas.ChargerJson, _CHARGER_EXAMPLE)},
        errors={404: "The charger is unknown or not the partner's"},
    ),
    Endpoint(
        "PUT",
        f"{API}/chargers/{{chargerId}}/status",
        control.change_status,
        "changeChargerStatus",
        "Make a charger available or take it out of service",
        "commands",
        access="partner",
        description="AVAILABLE / INOPERATIVE become OCPP ChangeAvailability Operative /"
        " Inoperative, for the whole charger or one connector. " + _SYNC_OR_ASYNC,
        query=command_schemas.CommandQuery,
        body=command_schemas.StatusChangeRequest,
        body_example={"status": "INOPERATIVE"},
        params=(CHARGER, IDEMPOTENCY_KEY, PREFER),
        replies={
            200: Reply(
                "The charger's answer",
                command_schemas.CommandResultJson,
                {**_COMMAND_RESULT, "action": "availability", "ocppAction": "ChangeAvailability"},
                headers=("Idempotent-Replayed",),
            ),
            202: Reply(
                "Taken: the outcome follows",
                command_schemas.CommandAcceptedJson,
                {**_COMMAND_ACCEPTED, "action": "availability"},
                headers=("Location", "Preference-Applied", "Idempotent-Replayed"),
            ),
        },
        errors=_COMMAND_ERRORS,
    ),
    Endpoint(
        "POST",
        f"{API}/chargers/{{chargerId}}/control",
        control.control,
        "controlCharger",
        "Switch a charger on or off",
        "commands",
        access="partner",
        description="on: RemoteStartTransaction (1.6) / RequestStartTransaction (2.0.1);"
        " off: RemoteStopTransaction / RequestStopTransaction of the running session. "
        + _SYNC_OR_ASYNC,
        query=command_schemas.CommandQuery,
        body=command_schemas.ControlRequest,
        body_example={"action": "on", "connectorId": 1, "idTag": "PARTNER-TAG-1"},
        params=(CHARGER, IDEMPOTENCY_KEY, PREFER),
        replies={
            200: Reply(
                "The charger's answer",
                command_schemas.CommandResultJson,
                _COMMAND_RESULT,
                headers=("Idempotent-Replayed",),
            ),
            202: Reply(
                "Taken: the outcome follows",
                command_schemas.CommandAcceptedJson,
                _COMMAND_ACCEPTED,
                headers=("Location", "Preference-Applied", "Idempotent-Replayed"),
            ),
        },
        errors=_COMMAND_ERRORS,
    ),
    Endpoint(
        "GET",
        f"{API}/chargers/{{chargerId}}/meter-values",
        history.meter_values,
        "getMeterValues",
        "A charger's meter values over a time window",
        "history",
        access="partner",
        description="From the history database, oldest first, `limit` at a time. Only values"
        " received since the charger was assigned to the partner.",
        query=history_schemas.MeterQuery,
        params=(CHARGER,),
        replies={
            200: Reply(
                "A page of meter values",
                history_schemas.MeterPage,
                {
                    "meterValues": [
                        {
                            "receivedAt": s.ISO_EXAMPLE,
                            "timestamp": s.ISO_EXAMPLE,
                            "connectorId": 1,
                            "transactionId": "1042",
                            "measurand": "Energy.Active.Import.Register",
                            "phase": None,
                            "value": 1234500.0,
                            "unit": "Wh",
                        }
                    ],
                    "nextCursor": None,
                },
            )
        },
        errors={404: "The charger is unknown or not the partner's"},
    ),
    Endpoint(
        "GET",
        f"{API}/chargers/{{chargerId}}/sessions",
        history.sessions,
        "getSessions",
        "A charger's charging sessions (transactions)",
        "history",
        access="partner",
        description="Sessions that started in the window, newest first, with the energy"
        " delivered once stopped. Only sessions since the charger was assigned to the partner.",
        query=history_schemas.HistoryQuery,
        params=(CHARGER,),
        replies={
            200: Reply(
                "A page of sessions",
                history_schemas.SessionPage,
                {
                    "sessions": [
                        {
                            "transactionId": "1042",
                            "connectorId": 1,
                            "idTag": "PARTNER-TAG-1",
                            "startedAt": s.ISO_EXAMPLE,
                            "stoppedAt": None,
                            "meterStartWh": 1200000.0,
                            "meterStopWh": None,
                            "energyWh": None,
                            "stopReason": None,
                            "active": True,
                        }
                    ],
                    "nextCursor": None,
                },
            )
        },
        errors={404: "The charger is unknown or not the partner's"},
    ),
    Endpoint(
        "GET",
        f"{API}/commands/{{commandId}}",
        commands.get_command,
        "getCommand",
        "A command's state and the charger's answer",
        "commands",
        access="partner",
        description="Any command the partner sent (synchronous or not). `state` is PENDING"
        " until the outcome is known.",
        params=(COMMAND,),
        replies={
            200: Reply(
                "The command",
                command_schemas.CommandJson,
                {
                    "commandId": "cmd_5f2b9c0a1d3e4f60",
                    "chargerId": "CP-0001",
                    "action": "on",
                    "mode": "async",
                    "state": "ACCEPTED",
                    "createdAt": s.ISO_EXAMPLE,
                    "completedAt": s.ISO_EXAMPLE,
                    "ocppAction": "RemoteStartTransaction",
                    "chargerResponse": {"status": "Accepted"},
                    "message": None,
                },
            )
        },
        errors={404: "No such command of this partner"},
    ),
    Endpoint(
        "GET",
        f"{API}/events",
        events.events,
        "events",
        "Live events of the partner's chargers (Server-Sent Events)",
        "events",
        access="partner",
        description="A `text/event-stream` of the partner's chargers' changes: `status`"
        " (a connector's status changed), `connection` (connected/disconnected), `session`"
        " (a session started/stopped) and `command` (a command of the partner ended). Each"
        " event's `data` is JSON (schemas StatusEventJson, ConnectionEventJson,"
        " SessionEventJson, CommandEventJson) and its `id` is the stream position: reconnect"
        " with `Last-Event-ID` to receive everything after it. A `: keep-alive` comment comes"
        " every 15 s. The stream ends when the key is revoked or the partner suspended."
        " Counts as one request for rate limiting.",
        query=event_schemas.EventsQuery,
        params=(LAST_EVENT_ID,),
        replies={
            200: Reply(
                "The event stream",
                str,
                'retry: 2000\n\nid: 1767225600000-0\nevent: status\ndata: {"chargerId":'
                ' "CP-0001", "connectorId": 1, "status": "CHARGING", "previousStatus":'
                ' "BLOCKED", "ocppStatus": "Charging", "errorCode": "NoError", "timestamp":'
                f' "{s.ISO_EXAMPLE}", "receivedAt": "{s.ISO_EXAMPLE}"}}\n\n',
                media="text/event-stream",
            )
        },
        errors={400: "Last-Event-ID is not an id this feed sent, or `types` is invalid"},
    ),
)

ADMIN_ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "POST",
        f"{ADMIN}/partners",
        admin.create_partner,
        "adminCreatePartner",
        "Create a partner",
        "admin: partners",
        access="admin",
        body=adm.PartnerCreate,
        body_example={"id": "acme", "name": "ACME Mobility", "chargerQuota": 1000},
        replies={201: Reply("Created", adm.PartnerJson, _ADMIN_PARTNER)},
        errors={409: "A partner with this id exists"},
    ),
    Endpoint(
        "GET",
        f"{ADMIN}/partners",
        admin.list_partners,
        "adminListPartners",
        "List partners",
        "admin: partners",
        access="admin",
        query=adm.PartnersQuery,
        replies={
            200: Reply(
                "A page of partners",
                adm.PartnerPage,
                {"partners": [_ADMIN_PARTNER], "nextCursor": None},
            )
        },
    ),
    Endpoint(
        "GET",
        f"{ADMIN}/partners/{{partnerId}}",
        admin.get_partner,
        "adminGetPartner",
        "A partner",
        "admin: partners",
        access="admin",
        params=(PARTNER,),
        replies={200: Reply("The partner", adm.PartnerJson, _ADMIN_PARTNER)},
        errors=_NO_PARTNER,
    ),
    Endpoint(
        "PATCH",
        f"{ADMIN}/partners/{{partnerId}}",
        admin.update_partner,
        "adminUpdatePartner",
        "Change a partner's name, charger quota or rate limits",
        "admin: partners",
        access="admin",
        description="New limits apply on every gateway at once.",
        params=(PARTNER,),
        body=adm.PartnerUpdate,
        body_example={"rateLimitMinute": 600, "rateLimitHour": 20000},
        replies={200: Reply("The partner", adm.PartnerJson, _ADMIN_PARTNER)},
        errors=_NO_PARTNER,
    ),
    Endpoint(
        "POST",
        f"{ADMIN}/partners/{{partnerId}}/suspend",
        admin.suspend_partner,
        "adminSuspendPartner",
        "Suspend a partner: its keys get 403 on every gateway at once",
        "admin: partners",
        access="admin",
        params=(PARTNER,),
        replies={
            200: Reply("The partner", adm.PartnerJson, {**_ADMIN_PARTNER, "status": "suspended"})
        },
        errors=_NO_PARTNER,
    ),
    Endpoint(
        "POST",
        f"{ADMIN}/partners/{{partnerId}}/reactivate",
        admin.reactivate_partner,
        "adminReactivatePartner",
        "Reactivate a suspended partner",
        "admin: partners",
        access="admin",
        params=(PARTNER,),
        replies={200: Reply("The partner", adm.PartnerJson, _ADMIN_PARTNER)},
        errors=_NO_PARTNER,
    ),
    Endpoint(
        "DELETE",
        f"{ADMIN}/partners/{{partnerId}}",
        admin.delete_partner,
        "adminDeletePartner",
        "Delete a partner: its keys are revoked and its chargers unassigned",
        "admin: partners",
        access="admin",
        params=(PARTNER,),
        replies={
            200: Reply(
                "Deleted",
                adm.PartnerDeletedJson,
                {"partnerId": "acme", "keysRevoked": 2, "chargersUnassigned": 12},
            )
        },
        errors=_NO_PARTNER,
    ),
    Endpoint(
        "POST",
        f"{ADMIN}/partners/{{partnerId}}/keys",
        admin.issue_key,
        "adminIssueKey",
        "Issue an API key (shown once)",
        "admin: API keys",
        access="admin",
        description="The answer holds the key itself; only its SHA-256 is stored, so it can"
        " never be shown again.",
        params=(PARTNER,),
        body=adm.KeyIssue,
        body_example={"name": "production"},
        replies={
            201: Reply(
                "Issued",
                adm.IssuedKeyJson,
                {"key": "evcs_4kT9aB2x…", "apiKey": _ADMIN_KEY, "previous": None},
            )
        },
        errors=_NO_PARTNER,
    ),
    Endpoint(
        "GET",
        f"{ADMIN}/partners/{{partnerId}}/keys",
        admin.list_partner_keys,
        "adminListPartnerKeys",
        "A partner's API keys (prefixes only)",
        "admin: API keys",
        access="admin",
        params=(PARTNER,),
        replies={200: Reply("The keys, newest first", adm.KeyListJson, {"keys": [_ADMIN_KEY]})},
        errors=_NO_PARTNER,
    ),
    Endpoint(
        "GET",
        f"{ADMIN}/keys",
        admin.find_keys,
        "adminFindKeys",
        "Find API keys by prefix (e.g. a leaked key a scanner reported)",
        "admin: API keys",
        access="admin",
        query=adm.KeysQuery,
        replies={200: Reply("Matching keys", adm.KeyListJson, {"keys": [_ADMIN_KEY]})},
    ),
    Endpoint(
        "POST",
        f"{ADMIN}/keys/{{keyId}}/rotate",
        admin.rotate_key,
        "adminRotateKey",
        "Rotate an API key: a new key, the old one working for an overlap window",
        "admin: API keys",
        access="admin",
        description="After the overlap the old key gets 401. The new key is shown once.",
        params=(KEY,),
        body=adm.KeyRotate,
        body_example={"overlapSeconds": 86400},
        replies={
            201: Reply(
                "The new key, and the old one as it now stands",
                adm.IssuedKeyJson,
                {
                    "key": "evcs_9ZqP0cV1…",
                    "apiKey": {**_ADMIN_KEY, "id": "key_1a2b3c4d5e6f7a8b"},
                    "previous": {
                        **_ADMIN_KEY,
                        "state": "rotating",
                        "expiresAt": s.ISO_EXAMPLE,
                        "replacedBy": "key_1a2b3c4d5e6f7a8b",
                    },
                },
            )
        },
        errors={404: "No such key", 409: "The key is revoked or already rotated"},
    ),
    Endpoint(
        "POST",
        f"{ADMIN}/keys/{{keyId}}/revoke",
        admin.revoke_key,
        "adminRevokeKey",
        "Revoke an API key: 401 on every gateway at once",
        "admin: API keys",
        access="admin",
        params=(KEY,),
        replies={
            200: Reply(
                "The key, revoked",
                adm.KeyJson,
                {**_ADMIN_KEY, "state": "revoked", "revokedAt": s.ISO_EXAMPLE},
            )
        },
        errors={404: "No such key"},
    ),
    Endpoint(
        "POST",
        f"{ADMIN}/chargers",
        admin.register_charger,
        "adminRegisterCharger",
        "Register a charger (and optionally assign it)",
        "admin: chargers",
        access="admin",
        description="Without `password` (and without `noPassword`) a password is generated and"
        " answered once; the charger authenticates with HTTP Basic (id, password).",
        body=adm.ChargerRegister,
        body_example={"chargerId": "CP-0001", "protocol": "ocpp1.6", "partnerId": "acme"},
        replies={
            201: Reply(
                "Registered",
                adm.RegisteredChargerJson,
                {"charger": _ADMIN_CHARGER, "password": "pW9x-3kLq8ZrT2vNm4Yb"},
            )
        },
        errors={
            404: "No such partner",
            409: "The charger is registered already, or the partner's quota is full",
        },
    ),
    Endpoint(
        "GET",
        f"{ADMIN}/chargers",
        admin.list_chargers,
        "adminListChargers",
        "List registered chargers",
        "admin: chargers",
        access="admin",
        query=adm.ChargersQuery,
        replies={
            200: Reply(
                "A page of chargers",
                adm.AdminChargerPage,
                {"chargers": [_ADMIN_CHARGER], "nextCursor": None},
            )
        },
    ),
    Endpoint(
        "GET",
        f"{ADMIN}/chargers/{{chargerId}}",
        admin.get_charger,
        "adminGetCharger",
        "A registered charger",
        "admin: chargers",
        access="admin",
        params=(CHARGER,),
        replies={200: Reply("The charger", adm.AdminChargerJson, _ADMIN_CHARGER)},
        errors=_NO_CHARGER,
    ),
    Endpoint(
        "DELETE",
        f"{ADMIN}/chargers/{{chargerId}}",
        admin.decommission_charger,
        "adminDecommissionCharger",
        "Decommission a charger: REMOVED for its partner, refused by csms from now on",
        "admin: chargers",
        access="admin",
        params=(CHARGER,),
        replies={
            200: Reply(
                "Decommissioned",
                adm.AdminChargerJson,
                {**_ADMIN_CHARGER, "removedAt": s.ISO_EXAMPLE},
            )
        },
        errors={**_NO_CHARGER, 409: "Already decommissioned"},
    ),
    Endpoint(
        "PUT",
        f"{ADMIN}/chargers/{{chargerId}}/partner",
        admin.assign_charger,
        "adminAssignCharger",
        "Assign a charger to a partner (within its quota)",
        "admin: chargers",
        access="admin",
        params=(CHARGER,),
        body=adm.ChargerAssign,
        body_example={"partnerId": "acme"},
        replies={200: Reply("The charger", adm.AdminChargerJson, _ADMIN_CHARGER)},
        errors={
            404: "No such charger or partner",
            409: "The partner's quota is full, or the charger is decommissioned",
        },
    ),
    Endpoint(
        "DELETE",
        f"{ADMIN}/chargers/{{chargerId}}/partner",
        admin.unassign_charger,
        "adminUnassignCharger",
        "Unassign a charger from its partner",
        "admin: chargers",
        access="admin",
        params=(CHARGER,),
        replies={
            200: Reply(
                "The charger",
                adm.AdminChargerJson,
                {**_ADMIN_CHARGER, "partnerId": None, "assignedAt": None},
            )
        },
        errors={**_NO_CHARGER, 409: "The charger is decommissioned"},
    ),
    Endpoint(
        "GET",
        f"{ADMIN}/audit",
        admin.audit_log,
        "adminAuditLog",
        "The audit log: admin actions and partner commands",
        "admin: audit",
        access="admin",
        description="Who (actor), what (action, target, details) and when (at), newest first."
        " Partner commands appear as `command.<action>` by `partner:<id>` with their outcome.",
        query=adm.AuditQuery,
        replies={
            200: Reply(
                "A page of entries",
                adm.AuditPage,
                {
                    "entries": [
                        {
                            "at": s.ISO_EXAMPLE,
                            "actor": "admin:alice",
                            "action": "api_key.revoke",
                            "target": "acme",
                            "details": {"key_id": "key_8c1d2e3f4a5b6c7d"},
                        }
                    ],
                    "nextCursor": None,
                },
            )
        },
    ),
)

ENDPOINTS = PARTNER_ENDPOINTS + ADMIN_ENDPOINTS


# Served but not documented: Prometheus metrics and the documentation itself.
UNDOCUMENTED: tuple[Route, ...] = (ops.METRICS, *docs.ROUTES)


def add_routes(app: web.Application) -> None:
    serve(app, (*ENDPOINTS, *UNDOCUMENTED))
