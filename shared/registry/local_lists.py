"""Local authorization lists: what a charger may authorize by itself while it is offline,
built from the token store (the operator's own tokens and those of the charger's partner),
with a version per charger. Deciding a list's content and its OCPP payload is plain code here;
the list a charger accepted is kept so the next update can be differential."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import asyncpg

from shared.framing import OCPP16
from shared.ids import token_uid
from shared.registry.audit_log import audit

ID_TAG_MAX_16 = 20  # an OCPP 1.6 idTag (and parentIdTag) is CiString20


class ListEntry(NamedTuple):
    """One token as a local list carries it."""

    id: str
    status: str
    expires: str | None  # ISO 8601, UTC
    group: str | None
    type: str


Entries = dict[str, ListEntry]  # by token uid


class LocalList(NamedTuple):
    version: int  # 0: none sent yet
    entries: Entries
    sent_at: datetime | None
    pending: bool = False  # a change to the token store has not reached the charger yet


class Update(NamedTuple):
    """What to send: the entries to add or change and the token ids to remove."""

    update_type: str  # Full or Differential
    version: int
    changed: list[ListEntry]
    removed: list[str]


def _iso(ts: datetime | None) -> str | None:
    return None if ts is None else ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def fits(protocol: str, entry: ListEntry) -> bool:
    """Whether the charger's version can carry this token (1.6 idTags are at most 20 long)."""
    return protocol != OCPP16 or len(entry.id) <= ID_TAG_MAX_16


def plan(protocol: str, held: LocalList, current: Entries, update_type: str) -> Update:
    """The next update of a charger's list: everything (Full) or what changed (Differential)."""
    wanted = {uid: e for uid, e in current.items() if fits(protocol, e)}
    version = held.version + 1
    if update_type == "Full":
        return Update("Full", version, sorted(wanted.values()), [])
    changed = sorted(e for uid, e in wanted.items() if held.entries.get(uid) != e)
    removed = sorted(e.id for uid, e in held.entries.items() if uid not in wanted)
    return Update("Differential", version, changed, removed)


def payload(protocol: str, update: Update) -> dict[str, Any]:
    """The SendLocalList request of the charger's version."""
    if protocol == OCPP16:
        entries: list[dict[str, Any]] = [
            {"idTag": e.id, "idTagInfo": _info16(e)} for e in update.changed
        ]
        entries += [{"idTag": token_id} for token_id in update.removed]
        return {
            "listVersion": update.version,
            "updateType": update.update_type,
            "localAuthorizationList": entries,
        }
    entries = [
        {"idToken": {"idToken": e.id, "type": e.type}, "idTokenInfo": _info201(e)}
        for e in update.changed
    ]
    # a removal names the token only; its type is not known any more, and matching is by id
    entries += [
        {"idToken": {"idToken": token_id, "type": "Central"}} for token_id in update.removed
    ]
    return {
        "versionNumber": update.version,
        "updateType": update.update_type,
        "localAuthorizationList": entries,
    }


def _info16(e: ListEntry) -> dict[str, Any]:
    info: dict[str, Any] = {"status": e.status}
    if e.expires:
        info["expiryDate"] = e.expires
    if e.group and len(e.group) <= ID_TAG_MAX_16:
        info["parentIdTag"] = e.group
    return info


def _info201(e: ListEntry) -> dict[str, Any]:
    info: dict[str, Any] = {"status": e.status}
    if e.expires:
        info["cacheExpiryDateTime"] = e.expires
    if e.group:
        info["groupIdToken"] = {"idToken": e.group, "type": "Central"}
    return info


def applied(held: Entries, update: Update) -> Entries:
    """The list the charger holds once it accepted `update`."""
    after = {} if update.update_type == "Full" else dict(held)
    for token_id in update.removed:
        after.pop(token_uid(token_id), None)
    after.update({token_uid(e.id): e for e in update.changed})
    return after


# storage ----------------------------------------------------------------------------------


async def tokens_for(pool: asyncpg.Pool, partner_id: str | None) -> Entries:
    """The tokens the list of a charger of `partner_id` holds: the operator's own and the
    partner's."""
    rows = await pool.fetch(
        "SELECT id, status, expires_at, group_id, type FROM tokens"
        " WHERE partner_id IS NULL OR partner_id = $1",
        partner_id,
    )
    return {
        token_uid(r["id"]): ListEntry(
            r["id"], r["status"], _iso(r["expires_at"]), r["group_id"], r["type"]
        )
        for r in rows
    }


# A list a change has not reached yet: marked, or claimed by a sync (migration 009's index).
_PENDING = "(stale_since IS NOT NULL OR syncing)"


async def held_list(pool: asyncpg.Pool, charger_id: str) -> LocalList:
    """The list the charger last accepted (version 0 and no entries before the first)."""
    row = await pool.fetchrow(
        f"SELECT version, entries, sent_at, {_PENDING} AS pending"
        " FROM local_lists WHERE charger_id = $1",
        charger_id,
    )
    if row is None:
        return LocalList(0, {}, None)
    entries = {uid: ListEntry(*fields) for uid, fields in row["entries"].items()}
    return LocalList(row["version"], entries, row["sent_at"], row["pending"])


async def record_accepted(
    pool: asyncpg.Pool,
    charger_id: str,
    update: Update,
    entries: Mapping[str, ListEntry],
    actor: str,
    command_id: str,
) -> None:
    """Keep the list the charger accepted (unless a newer one was accepted meanwhile)."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO local_lists (charger_id, version, entries) VALUES ($1, $2, $3)"
            " ON CONFLICT (charger_id) DO UPDATE SET version = $2, entries = $3, sent_at = now()"
            " WHERE local_lists.version < $2",
            charger_id,
            update.version,
            {uid: list(e) for uid, e in entries.items()},
        )
        await audit(
            conn,
            actor,
            "charger.local_list",
            charger_id,
            {
                "commandId": command_id,
                "version": update.version,
                "updateType": update.update_type,
                "changed": len(update.changed),
                "removed": len(update.removed),
            },
        )


# keeping lists in step with the token store (migration 009) --------------------------------

# Locked in one order, so that two token changes marking the same lists cannot deadlock.
_MARK = (
    "UPDATE local_lists SET stale_since = now() WHERE charger_id IN ("
    " SELECT l.charger_id FROM local_lists l {join} WHERE l.stale_since IS NULL {where}"
    " ORDER BY l.charger_id FOR UPDATE OF l)"
)


async def mark_stale(
    conn: Any, *, partners: Iterable[str | None] = (), chargers: Sequence[str] = ()
) -> None:
    """In the transaction of a token or assignment change: mark stale the lists of the chargers
    of `partners` (None, the operator's own tokens: every list) and of `chargers`."""
    owners = set(partners)
    if None in owners:
        await conn.execute(_MARK.format(join="", where=""))
        return
    if owners:
        await conn.execute(
            _MARK.format(
                join="JOIN chargers c ON c.id = l.charger_id",
                where="AND c.partner_id = ANY($1::text[])",
            ),
            sorted(o for o in owners if o is not None),
        )
    if chargers:
        await conn.execute(
            _MARK.format(join="", where="AND l.charger_id = ANY($1::text[])"), list(chargers)
        )


async def claim_stale(
    pool: asyncpg.Pool, limit: int, quiet: timedelta, lease: timedelta
) -> list[str]:
    """Claim up to `limit` lists to sync, until `lease` from now: those stale for `quiet` at
    least (a burst of changes goes out as one update), and claims that lapsed."""
    rows = await pool.fetch(
        "UPDATE local_lists SET stale_since = NULL, syncing = true,"
        " sync_after = now() + $3::interval WHERE charger_id IN ("
        " SELECT charger_id FROM local_lists WHERE (syncing OR stale_since <= now() - $2::interval)"
        " AND (sync_after IS NULL OR sync_after <= now())"
        " ORDER BY charger_id LIMIT $1 FOR UPDATE SKIP LOCKED)"
        " RETURNING charger_id",
        limit,
        quiet,
        lease,
    )
    return [r["charger_id"] for r in rows]


async def count_pending(pool: asyncpg.Pool) -> int:
    """Lists a change has not reached yet, the fleet over."""
    return int(await pool.fetchval(f"SELECT count(*) FROM local_lists WHERE {_PENDING}"))


async def retry_in(pool: asyncpg.Pool, charger_id: str, after: timedelta) -> None:
    """The claimed list waits `after` before a sweep takes it again (its charger offline)."""
    await pool.execute(
        "UPDATE local_lists SET sync_after = now() + $2::interval WHERE charger_id = $1",
        charger_id,
        after,
    )


async def synced(pool: asyncpg.Pool, charger_id: str) -> None:
    """The claimed list is in step (a change since marked it stale again, separately)."""
    await pool.execute(
        "UPDATE local_lists SET syncing = false, sync_after = NULL WHERE charger_id = $1",
        charger_id,
    )
