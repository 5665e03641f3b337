"""Does a charger belong to the calling partner? Anything else looks like "no such charger"."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aiohttp import web

from gateway.errors import ApiError
from gateway.guard import prefetched
from gateway.state import KEYS, REDIS, partner_id
from shared.ids import valid_charger_id, valid_token_id
from shared.redis_keys import F


def not_found() -> ApiError:
    # One message for unknown, unregistered and other partners' chargers alike: a partner must
    # never learn that someone else's charger exists.
    return ApiError(404, "charger not found")


def owns(fields: Mapping[str, str], partner: str) -> bool:
    return fields.get(F.REGISTERED) == "1" and fields.get(F.OWNER) == partner


def charger_id_of(request: web.Request) -> str:
    """The path's charger id; one that cannot exist is simply not found (and never a Redis key)."""
    charger_id = request.match_info["chargerId"]
    if not valid_charger_id(charger_id):
        raise not_found()
    return charger_id


def token_id_of(request: web.Request) -> str:
    """The path's token id; one that cannot exist is simply not found."""
    token_id = request.match_info["tokenId"]
    if not valid_token_id(token_id):
        raise ApiError(404, "token not found")
    return token_id


def charger_hash(request: web.Request) -> str | None:
    """The path charger's hash, for a route to prefetch beside the rate limit (None for an id
    that cannot exist: it reads nothing)."""
    charger_id = request.match_info["chargerId"]
    return request.app[KEYS].charger(charger_id) if valid_charger_id(charger_id) else None


def commandable(fields: Mapping[str, str], partner: str) -> bool:
    """The partner's, and not decommissioned: its connection may still be open until it
    drops, but it takes no more commands."""
    return owns(fields, partner) and fields.get(F.REMOVED) != "1"


_COMMANDABLE = (F.OWNER, F.REGISTERED, F.REMOVED)  # what commandable() reads
_OWNED = (*_COMMANDABLE, F.NODE, F.ONLINE)


async def require_owned(request: web.Request, charger_id: str) -> Mapping[str, str]:
    """The charger's ownership and whereabouts if it is the partner's to command, else 404;
    read beside the rate limit when the route prefetches its hash, so no round trip of its
    own."""
    key = request.app[KEYS].charger(charger_id)
    fields = prefetched(request, key)
    if fields is None:
        fields = _present(_OWNED, await request.app[REDIS].hmget(key, _OWNED))
    if not commandable(fields, partner_id(request)):
        raise not_found()
    return fields


async def owned_ids(request: web.Request, ids: Sequence[str]) -> set[str]:
    """Which of the ids are the calling partner's chargers to command, in one round trip."""
    keys = request.app[KEYS]
    pipe = request.app[REDIS].pipeline(transaction=False)
    for charger_id in ids:
        pipe.hmget(keys.charger(charger_id), _COMMANDABLE)
    partner = partner_id(request)
    return {
        charger_id
        for charger_id, values in zip(ids, await pipe.execute(), strict=True)
        if commandable(_present(_COMMANDABLE, values), partner)
    }


def _present(names: Sequence[str], values: Sequence[str | None]) -> dict[str, str]:
    """An HMGET's answer as the fields the hash has."""
    return {name: value for name, value in zip(names, values, strict=True) if value}
