"""Keeping chargers' local lists in step with the token store. A token created, changed, blocked
or deleted (or a partner deleted, or a charger given to another partner) marks the lists it
concerns stale in the same transaction; every gateway sweeps now and then, claims some stale
lists and sends each charger that is connected a differential update. A charger offline is
looked at again a little later, one that did not accept once its claim lapses."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import asyncpg
import redis.asyncio as redis
from prometheus_client import Counter, Gauge

from gateway.dispatch import Dispatcher
from gateway.fleet import charger_protocol
from gateway.local_lists import Planned, Sent, plan_list, send_planned
from shared import registry
from shared.bus import Outcome
from shared.process import cancel
from shared.redis_keys import Keys
from shared.registry import local_lists as ll

log = logging.getLogger(__name__)

ACTOR = "local-list-sync"  # the command record's and the audit log's actor
BATCH = 100  # lists claimed per sweep and gateway: a bulk token import cannot flood a fleet
AT_ONCE = 20  # chargers sent an update at the same time
# A charger that refused is tried again after this long; also the longest a dead gateway's
# claim holds a list.
RETRY_AFTER = timedelta(seconds=60)
# An offline charger is looked at again after this long: once back, it soon gets its update.
OFFLINE_RETRY = timedelta(seconds=15)

UPDATES = Counter(
    "evcs_gateway_local_list_updates_total",
    "Local list updates the sync sent, by the charger's answer (or the command's outcome when"
    " there was none)",
    ["answer"],
)
PENDING = Gauge(
    "evcs_gateway_local_lists_pending",
    "Chargers' local lists a token change has not reached yet, at this gateway's last sweep",
)


def in_step(planned: Planned) -> bool:
    """Whether the charger holds the planned list already (a change that touched nothing it
    carries: another partner's token, or one too long for 1.6)."""
    update = planned.update
    return update.update_type == "Differential" and not update.changed and not update.removed


def answer_status(sent: Sent) -> str | None:
    """The SendLocalList status the charger answered (Accepted, Failed, NotSupported,
    VersionMismatch); None when it did not answer."""
    status = (sent.settled.reply.response or {}).get("status")
    return status if isinstance(status, str) else None


_ANSWERS = frozenset({"Accepted", "Failed", "NotSupported", "VersionMismatch"})


def _counted(sent: Sent) -> str | None:
    """The charger's answer, counted (under the outcome when it gave none, or an unknown one:
    the metric's labels stay few)."""
    status = answer_status(sent)
    UPDATES.labels(status if status in _ANSWERS else sent.settled.reply.outcome.value).inc()
    return status


class ListSync:
    """The sweep of one gateway, every `every` seconds while started."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        r: redis.Redis,
        keys: Keys,
        dispatch: Dispatcher,
        every: float,
    ) -> None:
        self._pool = pool
        self._redis = r
        self._keys = keys
        self._dispatch = dispatch
        self._every = every
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._every > 0:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            await cancel(self._task)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._every)
            try:
                await self.sweep()
            except Exception:  # PostgreSQL away: the lists stay marked, the next sweep tries
                log.warning("local list sweep failed", exc_info=True)

    async def sweep(self) -> int:
        """Claim stale lists and bring each connected charger's in step; how many were
        claimed."""
        # two sends (a Differential refused, then Full) may run under one claim
        lease = max(RETRY_AFTER, 2 * self._dispatch.deadline + timedelta(seconds=5))
        claimed = await ll.claim_stale(self._pool, BATCH, timedelta(seconds=self._every), lease)
        gate = asyncio.Semaphore(AT_ONCE)

        async def one(charger_id: str) -> None:
            async with gate:
                try:
                    await self._sync(charger_id)
                except Exception:  # left claimed: tried again when the claim lapses
                    log.warning("local list not synced", extra={"charger_id": charger_id})

        await asyncio.gather(*(one(c) for c in claimed))
        PENDING.set(await ll.count_pending(self._pool))
        return len(claimed)

    async def _sync(self, charger_id: str) -> None:
        try:
            charger = await registry.get_charger(self._pool, charger_id)
        except registry.NotFound:
            charger = None
        if charger is None or charger.removed_at is not None:
            await ll.synced(self._pool, charger_id)  # nobody to send it to
            return
        protocol, online = await charger_protocol(self._pool, self._redis, self._keys, charger_id)
        if protocol is None or not online:
            await ll.retry_in(self._pool, charger_id, OFFLINE_RETRY)
            return
        planned = await plan_list(self._pool, charger, protocol, None)
        if in_step(planned):
            await ll.synced(self._pool, charger_id)
            return
        sent = await send_planned(self._pool, self._dispatch, charger_id, protocol, planned, ACTOR)
        status = _counted(sent)
        if status == "VersionMismatch":  # it lost or replaced its list: send all of it
            full = await plan_list(self._pool, charger, protocol, "Full")
            sent = await send_planned(self._pool, self._dispatch, charger_id, protocol, full, ACTOR)
            status = _counted(sent)
        if sent.settled.reply.outcome is Outcome.ACCEPTED:
            await ll.synced(self._pool, charger_id)
        elif status == "NotSupported":
            log.warning(
                "a charger holding a local list says it supports none; not synced again",
                extra={"charger_id": charger_id},
            )
            await ll.synced(self._pool, charger_id)
