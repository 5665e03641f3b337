"""The prose of the OpenAPI document: what a partner developer reads first."""

from __future__ import annotations

TITLE = "EV charging partner API"
VERSION = "1.0.0"

DESCRIPTION = """\
Read the status of your chargers, switch them on and off, follow their changes live and read
their history. Operators manage partners, keys and chargers through the admin endpoints.

## Authentication
Send your API key as `x-api-key: evcs_…` or `Authorization: Bearer evcs_…`. Keys look like
`evcs_` + 43 characters + a 6-character checksum; a mistyped key is refused at once.
A missing, malformed, unknown, revoked, expired or rotated-out key gets **401**; a suspended
account gets **403**. Revocations and suspensions apply on every gateway within a moment.

## Your chargers only
You see and control only the chargers assigned to you. Any other id (unknown, or another
partner's) is **404 charger not found**, and batch answers list it under `notFound`: the API
never tells the two apart.

## Errors
Every error has the same JSON body: `{"statusCode", "message", "error", "timestamp", "path"}`,
sometimes with more fields (`commandId`, `outcome`). Every answer carries `X-Request-Id`
(yours if you sent a sane one): quote it when asking for support.

## Rate limits
Per partner, by default 100 requests per minute and 1000 per hour (sliding windows, shared by
every gateway). Every answer carries `RateLimit-Policy` and `RateLimit` (IETF draft headers) for
the tighter window; beyond it you get **429** with `Retry-After` seconds. Batch calls and an
event stream count as one request each. Should the limiter's store be unreachable, the gateway
answers **503** with `Retry-After` (the operator may instead choose to serve unmetered:
`EVCS_RATE_LIMIT_FAIL_OPEN=true`; such answers carry no RateLimit headers).

## Statuses
`AVAILABLE`, `CHARGING`, `BLOCKED` (occupied, not charging), `RESERVED`, `INOPERATIVE`,
`REMOVED` (decommissioned), `UNKNOWN` (never seen, or offline past the grace period). A
charger is CHARGING while any connector charges, else AVAILABLE while any connector is free,
then RESERVED, BLOCKED, and INOPERATIVE only when every connector is (or connector 0 of an
OCPP 1.6 charger is).

## Commands
`POST /chargers/{id}/control` (on/off) and `PUT /chargers/{id}/status` answer with the
charger's own reply (Accepted or Rejected) by default; not connected is **409**, no answer in
time **504**, an OCPP error **502**, the charger's node unreachable **503** (nothing was sent).
For commands you do not want to wait for, add `?mode=async` (or `Prefer: respond-async`): the
answer is **202** with a `commandId` at once, and the outcome (OCPI CommandResult vocabulary:
ACCEPTED, REJECTED, TIMEOUT, EVSE_OFFLINE, FAILED, NOT_SUPPORTED) arrives as a `command` event
on `GET /events` and at `GET /commands/{commandId}`.

## Idempotency
Send `Idempotency-Key: <your unique id>` with any command. Retrying with the same key and body
within 24 hours returns the first answer (`Idempotent-Replayed: true`) and never sends the
command twice, even when retries race each other. The same key with a different body is **422**;
while the first request still runs, **409** (retry shortly).

## Live events
`GET /events` is a Server-Sent Events stream of your chargers' status, connection and session
changes and your commands' outcomes. Each event's `id` is a stream position: reconnect with
`Last-Event-ID` (EventSource does this itself) and you receive everything you missed, as long
as it is younger than the stream retention (10 minutes by default).

## Pagination and history
Lists are cursor-paginated: pass `nextCursor` as `cursor` until it is null. Meter values and
sessions come from the history database for a time window (`from`, `to`, ISO 8601 with offset;
default the last 24 hours), only since the charger was assigned to you.
"""

TAGS = (
    ("chargers", "Status of your chargers, from the live state"),
    (
        "commands",
        "Switch chargers on and off, change availability, unlock, reset, follow commands",
    ),
    ("events", "Live changes as Server-Sent Events"),
    ("history", "Meter values and sessions from the history database"),
    ("operations", "Health checks (no key needed)"),
    ("admin: partners", "Operators: partners, quotas and rate limits (admin token)"),
    ("admin: API keys", "Operators: issue, find, rotate and revoke API keys (admin token)"),
    ("admin: chargers", "Operators: register, assign and decommission chargers (admin token)"),
    (
        "admin: commands",
        "Operators: send any OCPP message to a charger, follow any command (admin token)",
    ),
    ("admin: audit", "Operators: who did what when (admin token)"),
    ("admin: history", "Operators: any charger's status changes, meter values, sessions, commands"),
    ("admin: events", "Operators: live changes of every charger as Server-Sent Events"),
    ("admin: system", "Operators: storage health, csms nodes, recorder lag"),
    (
        "admin: console session",
        "Operators: sign in to the operator console (/console) with the admin token",
    ),
)
