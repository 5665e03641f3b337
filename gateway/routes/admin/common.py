"""What the admin routes share: the acting admin, the gateway's default limits, the partner
in the path and keyset cursors."""

from __future__ import annotations

from aiohttp import web

from gateway import cursors
from gateway.errors import ApiError
from gateway.state import ADMIN_ACTOR, SETTINGS
from shared.ids import PARTNER_ID_RE

NO_PARTNER = {404: "No such partner"}


def actor(request: web.Request) -> str:
    """Who acts, for the audit log."""
    return request[ADMIN_ACTOR]


def default_limits(request: web.Request) -> tuple[int, int]:
    """The gateway's rate limits per minute and per hour, for partners without their own."""
    s = request.app[SETTINGS]
    return s.rate_limit_minute, s.rate_limit_hour


def partner_id_of(request: web.Request) -> str:
    """The path's partner id; one that cannot exist is simply not found."""
    partner = request.match_info["partnerId"]
    if not PARTNER_ID_RE.fullmatch(partner):
        raise ApiError(404, "partner not found")
    return partner


def after(cursor: str | None) -> str:
    """The last id of the previous page ("" for the first page)."""
    if cursor is None:
        return ""
    [last] = cursors.decode(cursor, 1)
    if not isinstance(last, str):
        raise ApiError(400, "cursor: not a cursor this API returned")
    return last
