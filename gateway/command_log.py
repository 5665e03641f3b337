"""The gateway's record of partner and operator commands (table partner_commands): written
when a command is taken and when its outcome is known; read for GET /commands/{commandId},
GET /admin/commands/{commandId} and a charger's recent commands."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import asyncpg

from gateway.command_schemas import AdminCommandJson, CommandJson
from gateway.commands import Settled
from gateway.schemas import CommandState
from shared.bus import Action
from shared.ids import new_id
from shared.redaction import redacted

# An outcome not known this long after its deadline never will be (its gateway died mid-way).
GIVE_UP_AFTER = timedelta(seconds=30)

# What partners call the actions they can send.
LABELS = {Action.START: "on", Action.STOP: "off", Action.AVAILABILITY: "availability"}


def label_of(action: str) -> str:
    try:
        return LABELS.get(Action(action), action)
    except ValueError:
        return action


@dataclass(frozen=True, slots=True)
class Order:
    """One command for one charger, as taken from a partner or an operator."""

    command_id: str
    charger_id: str
    action: Action
    params: dict[str, Any]

    @classmethod
    def ocpp(cls, charger_id: str, action: str, payload: dict[str, Any]) -> Order:
        """An operator's OCPP message, sent as it is."""
        return cls(new_id("cmd"), charger_id, Action.OCPP, {"action": action, "payload": payload})

    @property
    def label(self) -> str:
        if self.action is Action.OCPP:
            return str(self.params["action"])  # an operator's command: the OCPP message
        return LABELS.get(self.action, self.action.value)


def iso(ts: datetime | None) -> str | None:
    if ts is None:
        return None
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_epoch(epoch: float) -> str:
    """Epoch seconds as iso() renders a time."""
    return iso(datetime.fromtimestamp(epoch, UTC)) or ""


TAKEN = (
    "INSERT INTO partner_commands (id, partner_id, actor, charger_id, action, request, mode,"
    " deadline) VALUES ($1, $2, $3, $4, $5, $6, $7, now() + $8::interval)"
)


def taken_rows(
    partner_id: str | None,
    orders: Sequence[Order],
    mode: str,
    deadline: timedelta,
    actor: str | None = None,
) -> list[tuple[object, ...]]:
    """TAKEN's rows; partner_id None (and the admin as actor) for an operator's command."""
    return [
        (
            o.command_id,
            partner_id,
            actor,
            o.charger_id,
            o.label,
            redacted(o.params),
            mode,
            deadline,
        )
        for o in orders
    ]


# The outcome is committed without waiting for the WAL flush (set_config(..., true) is SET
# LOCAL, for this statement's transaction only): it is visible at once, and if PostgreSQL
# crashes before the flush, the outcome's event on the stream (the csms node's, or the one
# Dispatcher._finish adds for an outcome only the gateway knows; table commands) still answers
# GET /commands/{id}. The wait was about a quarter of a command's time in the gateway, and
# ten commands at once queued behind each other's flush.
_SETTLE = (
    "WITH lazy AS (SELECT set_config('synchronous_commit', 'off', true))"
    " UPDATE partner_commands SET outcome = $2, ocpp_action = $3, response = $4, message = $5,"
    " completed_at = now() FROM lazy WHERE id = $1 AND outcome IS NULL"
)


async def record_outcomes(pool: asyncpg.Pool, settled: Sequence[Settled]) -> None:
    await pool.executemany(
        _SETTLE,
        [
            (
                s.reply.id,
                s.reply.outcome.value,
                s.reply.ocpp_action,
                s.reply.response,
                s.reply.message,
            )
            for s in settled
        ],
    )


def _own(outcome: str | None, recorded: str | None) -> bool:
    """Whether the gateway's outcome stands: a TIMEOUT (no reply in time, perhaps a reply lost
    with a subscription) yields to what the node recorded the charger answered."""
    return outcome is not None and (outcome != "TIMEOUT" or recorded in (None, "TIMEOUT"))


def state_of(
    outcome: str | None, recorded: str | None, deadline: datetime, now: datetime
) -> CommandState:
    """The command's state: the outcome this gateway saw, else the one a node recorded, else
    PENDING until well past its deadline, when TIMEOUT is all that can be said."""
    # the strings were Outcome values when they were written
    if _own(outcome, recorded):
        return cast(CommandState, outcome)
    if recorded is not None:
        return cast(CommandState, recorded)
    return "TIMEOUT" if now > deadline + GIVE_UP_AFTER else "PENDING"


# A command's record and what its csms node recorded of it (for an outcome this gateway did
# not see: it died, or the answer went to another gateway).
_SELECT = (
    "SELECT p.*, c.outcome AS r_outcome, c.ocpp_action AS r_ocpp_action,"
    " c.response AS r_response, c.completed_at AS r_completed_at"
    " FROM partner_commands p LEFT JOIN commands c ON c.id = p.id"
)


def _command_json(row: asyncpg.Record, now: datetime) -> CommandJson:
    own = _own(row["outcome"], row["r_outcome"])
    return {
        "commandId": row["id"],
        "chargerId": row["charger_id"],
        "action": row["action"],
        "mode": row["mode"],
        "state": state_of(row["outcome"], row["r_outcome"], row["deadline"], now),
        "createdAt": iso(row["created_at"]) or "",
        "completedAt": iso(row["completed_at"] if own else row["r_completed_at"]),
        "ocppAction": row["ocpp_action"] if own else row["r_ocpp_action"],
        "chargerResponse": row["response"] if own else row["r_response"],
        "message": row["message"] if own else None,
    }


async def find(
    pool: asyncpg.Pool, command_id: str, partner_id: str | None = None
) -> CommandJson | None:
    """The partner's command (any command for partner_id None: the admin's view), or None
    for an unknown id or another partner's command."""
    row = await pool.fetchrow(
        f"{_SELECT} WHERE p.id = $1 AND ($2::text IS NULL OR p.partner_id = $2)",
        command_id,
        partner_id,
    )
    if row is None:
        return None
    return _command_json(row, datetime.now(UTC))


async def of_charger(
    pool: asyncpg.Pool, charger_id: str, before: tuple[datetime, str] | None, limit: int
) -> list[tuple[datetime, AdminCommandJson]]:
    """A charger's commands, partners' and operators', newest first, before (created, id);
    each with its creation time, for the next page's cursor."""
    rows = await pool.fetch(
        f"{_SELECT} WHERE p.charger_id = $1"
        " AND ($2::timestamptz IS NULL OR (p.created_at, p.id) < ($2, $3::text))"
        " ORDER BY p.created_at DESC, p.id DESC LIMIT $4",
        charger_id,
        before[0] if before else None,
        before[1] if before else None,
        limit,
    )
    now = datetime.now(UTC)
    return [
        (
            row["created_at"],
            {
                **_command_json(row, now),
                "partnerId": row["partner_id"],
                "actor": row["actor"],
                "request": row["request"],
            },
        )
        for row in rows
    ]
