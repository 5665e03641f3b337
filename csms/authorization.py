"""Authorizing a token (an RFID idTag in OCPP 1.6, an idToken in 2.0.1).

The decision is `decide`, a plain function of the token as the registry projected it into
Redis, the time, the unknown-token setting and whether the token has a transaction running.
Reading what it needs is one Redis round trip (`TokenReader.lookup`: the token's hash and its
running transaction share a slot); no database is asked. A transaction a registered token
starts is remembered under the token ("chargerId txId") until it stops, for ConcurrentTx.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from shared.framing import OCPP16
from shared.ids import token_uid, valid_token_id
from shared.redis_keys import TF, Keys
from shared.redis_lane import HotPath, failure, succeeded

log = logging.getLogger(__name__)

ACCEPTED = "Accepted"
# A remote start vouches for its token on that charger this long (s): a driver has the
# charger's connection timeout to plug in, and a 1.6 charger may Authorize it first.
REMOTE_START_GRANT = 300.0
# A transaction still marked running after this long (s) no longer counts for ConcurrentTx:
# a charger that never reported its stop does not lock the token out for good.
RUNNING_TTL = 86_400
# 1.6 IdToken (parentIdTag) is CiString20.
_PARENT_ID_TAG_MAX = 20


@dataclass(frozen=True, slots=True)
class Token:
    """A registered token as projected into Redis (shared/registry/projection.py)."""

    status: str  # Accepted, Blocked or Expired
    expires_at: float | None  # epoch seconds
    group_id: str | None
    partner_id: str | None
    type: str


@dataclass(frozen=True, slots=True)
class Running:
    """The transaction a token runs now, as recorded when it started."""

    charger_id: str
    transaction_id: str


@dataclass(frozen=True, slots=True)
class TokenState:
    """What one lookup read: the token (None: nobody registered it) and its transaction."""

    uid: str  # the canonical (upper-case) id
    token: Token | None
    running: Running | None = None
    granted: bool = False  # a remote start on this charger named it lately


@dataclass(frozen=True, slots=True)
class RunningChange:
    """Record (`running`) or clear a registered token's transaction once the message is stored."""

    uid: str
    charger_id: str
    transaction_id: str
    running: bool


def decide(token: Token | None, now: float, unknown: str, running: bool) -> str:
    """The answer to a token: Accepted, Blocked, Expired, ConcurrentTx, or Unknown for a token
    nobody registered when `unknown` (the setting) is not Accepted. 1.6 calls Unknown Invalid."""
    if token is None:
        return ACCEPTED if unknown == ACCEPTED else "Unknown"
    if token.status != ACCEPTED:
        return token.status
    if token.expires_at is not None and token.expires_at <= now:
        return "Expired"
    if running:
        return "ConcurrentTx"
    return ACCEPTED


def token_of(protocol: str, action: str, payload: dict[str, Any]) -> str | None:
    """The token a CALL asks about, if its answer is an authorization."""
    if protocol == OCPP16:
        if action in ("Authorize", "StartTransaction", "StopTransaction"):
            tag = payload.get("idTag")
            return tag if isinstance(tag, str) else None
        return None
    if action in ("Authorize", "TransactionEvent"):
        id_token = payload.get("idToken")
        if isinstance(id_token, dict) and isinstance(id_token.get("idToken"), str):
            return str(id_token["idToken"])
    return None


def unknown_policy(granted: bool, setting: str) -> str:
    """The unknown-token setting, or Accepted for a token a remote start on this charger just
    named: the partner that started it vouched for it."""
    return ACCEPTED if granted else setting


def concurrent(
    running: Running | None,
    charger_id: str,
    live: dict[int, str],
    transaction_id: str | None,
) -> bool:
    """Whether `running` is another transaction than the one asked about: one on another
    charger, or another live one on this charger (`live`: connector -> transaction id). The
    token's own charger may present it again (to stop its session); a transaction this charger
    no longer runs (its stop got lost) does not count."""
    if running is None:
        return False
    if running.charger_id != charger_id:
        return True
    if transaction_id is not None and running.transaction_id == transaction_id:
        return False
    return transaction_id is not None and running.transaction_id in live.values()


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def id_tag_info(status: str, token: Token | None) -> dict[str, Any]:
    """OCPP 1.6 IdTagInfo."""
    info: dict[str, Any] = {"status": "Invalid" if status == "Unknown" else status}
    if token is not None:
        if token.expires_at is not None:
            info["expiryDate"] = _iso(token.expires_at)
        if token.group_id and len(token.group_id) <= _PARENT_ID_TAG_MAX:
            info["parentIdTag"] = token.group_id
    return info


def id_token_info(status: str, token: Token | None) -> dict[str, Any]:
    """OCPP 2.0.1 IdTokenInfoType."""
    info: dict[str, Any] = {"status": status}
    if token is not None:
        if token.expires_at is not None:
            info["cacheExpiryDateTime"] = _iso(token.expires_at)
        if token.group_id:
            info["groupIdToken"] = {"idToken": token.group_id, "type": token.type}
    return info


def parse_token(fields: list[str | None]) -> Token | None:
    """A token from its hash's fields (HMGET order: status, expiry, group, partner, type)."""
    status, expires, group, partner, type_ = fields
    if not status:
        return None
    try:
        expires_at = float(expires) if expires else None
    except ValueError:
        expires_at = None
    return Token(status, expires_at, group or None, partner or None, type_ or "ISO14443")


def parse_running(value: str | None) -> Running | None:
    if not value:
        return None
    charger, _, tx = value.partition(" ")
    return Running(charger, tx)


_FIELDS = [TF.STATUS, TF.EXPIRES, TF.GROUP, TF.PARTNER, TF.TYPE]
# Clear a token's transaction only if it is still the one that stopped.
_CLEAR = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
)


class TokenReader:
    """Reads tokens from Redis for a node's chargers, and records their transactions."""

    def __init__(self, keys: Keys, commands: HotPath) -> None:
        self._keys = keys
        self._commands = commands

    async def lookup(self, token_id: str, charger_id: str) -> TokenState:
        """The token, its running transaction and whether a remote start on this charger named
        it, in one round trip (one slot); an id nobody could have registered costs none."""
        uid = token_uid(token_id)
        if not valid_token_id(token_id):
            return TokenState(uid, None)
        token, tx, grant = (
            self._keys.token(uid),
            self._keys.token_tx(uid),
            self._keys.token_grant(uid, charger_id),
        )
        # on the commands' own path: a charger waits for this answer before it may charge
        fields, running, granted = succeeded(
            await self._commands.run(
                [(token, ("HMGET", token, *_FIELDS)), (tx, ("GET", tx)), (grant, ("EXISTS", grant))]
            )
        )
        return TokenState(uid, parse_token(fields), parse_running(running), bool(granted))

    async def grant(self, token_id: str, charger_id: str) -> None:
        """A remote start names `token_id` on this charger: accept it there for a while, on
        whichever node the charger is connected to by then."""
        if valid_token_id(token_id):
            key = self._keys.token_grant(token_uid(token_id), charger_id)
            # on the commands' own connection: a remote start waits for this before its CALL
            succeeded(await self._commands.run([(key, self._granting(key))]))

    def grant_now(self, token_id: str, charger_id: str) -> bool:
        """grant() asked at once, without waiting for Redis: ahead of the CALL that names the
        token, on the connection that serves the charger's lookup of it after, in order. (A
        charger that moved to another node looks up on that node's connection: by then the
        grant has been in Redis for a round trip to the charger at least.) False if it cannot
        be asked so (then await grant())."""
        if not valid_token_id(token_id):
            return True
        key = self._keys.token_grant(token_uid(token_id), charger_id)
        asked = self._commands.issue([self._granting(key)])
        if asked is None:
            return False
        asked.add_done_callback(partial(_granted, charger_id))
        return True

    @staticmethod
    def _granting(key: str) -> tuple[Any, ...]:
        return ("SET", key, "1", "EX", int(REMOTE_START_GRANT))

    async def record(self, changes: Sequence[RunningChange]) -> None:
        """Mark or clear the tokens' transactions, in order, in one round trip."""
        calls: list[tuple[str, tuple[Any, ...]]] = []
        for change in changes:
            key = self._keys.token_tx(change.uid)
            value = f"{change.charger_id} {change.transaction_id}"
            if change.running:
                calls.append((key, ("SET", key, value, "EX", RUNNING_TTL)))
            else:
                calls.append((key, ("EVAL", _CLEAR, 1, key, value)))
        # on the commands' path too: the charger's answer waits for it
        succeeded(await self._commands.run(calls))


def _granted(charger_id: str, asked: asyncio.Future[list[Any]]) -> None:
    """A grant asked without waiting: a failure is logged, as grant()'s caller logs it."""
    failed = failure(asked)
    if failed is not None:
        log.warning(
            "could not record a remote start's token",
            extra={"charger_id": charger_id, "error": repr(failed)},
        )
