"""Sending a charger its local authorization list over the command bus: planned from the token
store and the list it holds, sent as SendLocalList, kept once the charger accepts it. The admin
API, `evcs admin local-list` and the sync of stale lists all send through here."""

from __future__ import annotations

from typing import NamedTuple

import asyncpg

from gateway.command_log import Order
from gateway.commands import Settled
from gateway.dispatch import Dispatcher
from shared.bus import Outcome
from shared.registry import ChargerRecord
from shared.registry import local_lists as ll


class Planned(NamedTuple):
    held: ll.LocalList
    update: ll.Update


class Sent(NamedTuple):
    order: Order
    update: ll.Update
    settled: Settled


async def plan_list(
    pool: asyncpg.Pool, charger: ChargerRecord, protocol: str, update_type: str | None
) -> Planned:
    """The next list (Differential once the charger holds one, else Full, unless
    `update_type` says) and the list it holds."""
    held = await ll.held_list(pool, charger.id)
    current = await ll.tokens_for(pool, charger.partner_id)
    kind = update_type or ("Differential" if held.version else "Full")
    return Planned(held, ll.plan(protocol, held, current, kind))


async def send_planned(
    pool: asyncpg.Pool,
    dispatch: Dispatcher,
    charger_id: str,
    protocol: str,
    planned: Planned,
    actor: str,
) -> Sent:
    """Send the planned list and wait for the charger's answer; keep the list if accepted."""
    update = planned.update
    order = Order.ocpp(charger_id, "SendLocalList", ll.payload(protocol, update))
    settled = await dispatch.operator_sync(order, actor)
    if settled.reply.outcome is Outcome.ACCEPTED:
        entries = ll.applied(planned.held.entries, update)
        await ll.record_accepted(pool, charger_id, update, entries, actor, order.command_id)
    return Sent(order, update, settled)


async def send_local_list(
    pool: asyncpg.Pool,
    dispatch: Dispatcher,
    charger: ChargerRecord,
    protocol: str,
    update_type: str | None,
    actor: str,
) -> Sent:
    """Plan the next list and send it."""
    planned = await plan_list(pool, charger, protocol, update_type)
    return await send_planned(pool, dispatch, charger.id, protocol, planned, actor)
