"""Partner commands from taking to outcome: recorded, sent over the bus (many at once for a
batch), their outcomes recorded, and the outcomes only the gateway knows put on the event
stream so the live feed and the recorder see every command end."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import asyncpg
import redis.asyncio as redis
from prometheus_client import Counter, Histogram

from gateway import command_log
from gateway.command_log import Order
from gateway.commands import REPLY_MARGIN, CommandBus, Location, Settled
from gateway.grouped_write import GroupedWrite
from shared import events as ev
from shared.process import cancel, spawn
from shared.redaction import redacted
from shared.redis_keys import Keys
from shared.settings import Settings

log = logging.getLogger(__name__)

COMMANDS = Counter(
    "evcs_gateway_commands_total", "Partner commands by outcome", ["action", "outcome"]
)

# Where a command's time goes, for an operator asking whether slow commands wait on PostgreSQL or
# on the csms and the charger. A stage that fails is timed too: a PostgreSQL outage shows here.
STAGES = Histogram(
    "evcs_gateway_command_stage_seconds",
    "Time each command request (a batch as a whole) spent in each stage: record (committed"
    " before sending), send (until the charger's answer, or the gateway's own for a charger it"
    " cannot reach) and outcome (recorded)",
    ["stage"],
    buckets=(*(0.00025 * 2**i for i in range(15)), 10.0, 30.0),  # 0.25 ms .. 4.1 s, doubling
)
_RECORD, _SEND, _OUTCOME = (STAGES.labels(stage) for stage in ("record", "send", "outcome"))

# Commands of one batch in flight at once: enough to finish 1000 within a charger timeout or
# two, few enough not to flood a node.
BATCH_CONCURRENCY = 200


class Dispatcher:
    def __init__(
        self,
        settings: Settings,
        r: redis.Redis,
        keys: Keys,
        bus: CommandBus,
        pool: asyncpg.Pool | None = None,
    ) -> None:
        self._settings = settings
        self._redis = r
        self._keys = keys
        self._bus = bus
        self.pool = pool
        self._background: set[asyncio.Task[Any]] = set()
        self._taken: GroupedWrite | None = None

    @property
    def deadline(self) -> timedelta:
        return timedelta(seconds=self._settings.command_timeout + REPLY_MARGIN)

    def longest(self, commands: int) -> float:
        """Seconds `run` may take for this many commands: a deadline per round of sends."""
        rounds = max(1, math.ceil(commands / BATCH_CONCURRENCY))
        return rounds * self.deadline.total_seconds()

    async def take(
        self,
        partner_id: str | None,
        orders: Sequence[Order],
        mode: str,
        actor: str | None = None,
    ) -> None:
        """Record the commands before any is sent: every command is in the audit (an
        operator's with partner_id None and the admin as actor)."""
        assert self.pool is not None
        if self._taken is None:
            self._taken = GroupedWrite(self.pool, command_log.TAKEN)
        rows = command_log.taken_rows(partner_id, orders, mode, self.deadline, actor)
        started = time.perf_counter()
        try:
            await self._taken.write(rows)
        finally:
            _RECORD.observe(time.perf_counter() - started)

    async def run(
        self,
        partner_id: str | None,
        orders: Sequence[Order],
        where: Mapping[str, Location] | None = None,
    ) -> list[Settled]:
        """Send the (already taken) commands, at most BATCH_CONCURRENCY at a time; `where`,
        the chargers' whereabouts the caller has read already."""
        gate = asyncio.Semaphore(BATCH_CONCURRENCY)
        timeout = self._settings.command_timeout

        async def one(order: Order) -> Settled:
            async with gate:
                return await self._bus.send(
                    order.charger_id,
                    partner_id,
                    order.action,
                    order.params,
                    timeout,
                    command_id=order.command_id,
                    where=None if where is None else where.get(order.charger_id),
                )

        started = time.perf_counter()
        try:
            settled = list(await asyncio.gather(*(one(o) for o in orders)))
        finally:
            sent = time.perf_counter()
            _SEND.observe(sent - started)
        for order, s in zip(orders, settled, strict=True):
            COMMANDS.labels(order.action.value, s.reply.outcome.value).inc()
        try:
            await self._finish(partner_id, orders, settled)
        except Exception:
            # The commands ran: their outcomes are the answer, and an error instead would
            # free the Idempotency-Key for a retry that runs them again. A node's outcome is
            # on the stream all the same; one only the gateway knew ends as TIMEOUT.
            log.exception(
                "command outcomes not recorded",
                extra={"command_ids": [o.command_id for o in orders]},
            )
        finally:
            _OUTCOME.observe(time.perf_counter() - sent)
        return settled

    async def _finish(
        self, partner_id: str | None, orders: Sequence[Order], settled: Sequence[Settled]
    ) -> None:
        assert self.pool is not None
        await command_log.record_outcomes(self.pool, settled)
        concluded = [(o, s) for o, s in zip(orders, settled, strict=True) if s.by_gateway]
        if not concluded:
            return
        now = time.time()
        pipe = self._redis.pipeline(transaction=False)
        for order, s in concluded:
            event = ev.command(
                order.charger_id,
                now,
                command_id=order.command_id,
                partner_id=partner_id,
                action=order.action.value,
                params=redacted(order.params),
                ocpp_action=None,
                outcome=s.reply.outcome.value,
                response=None,
                message=s.reply.message,
                origin="gateway",
            )
            pipe.xadd(self._keys.stream_for(order.charger_id), ev.encode(event))
        await pipe.execute()

    async def operator_sync(self, order: Order, actor: str) -> Settled:
        """Record an operator's command, send it and wait for its outcome."""
        await self.take(None, [order], "sync", actor=actor)
        [settled] = await self.run(None, [order])
        return settled

    def run_later(self, partner_id: str | None, orders: Sequence[Order]) -> None:
        """Run the commands in the background (asynchronous mode); outcomes go to the record."""
        spawn(self._background, self._run_logged(partner_id, orders))

    async def _run_logged(self, partner_id: str | None, orders: Sequence[Order]) -> None:
        try:
            await self.run(partner_id, orders)
        except Exception:
            # the record says PENDING, then TIMEOUT past its deadline: never a wrong outcome
            log.exception(
                "asynchronous command failed", extra={"command_ids": [o.command_id for o in orders]}
            )

    async def stop(self) -> None:
        """Let background commands end (they are bounded by the command timeout)."""
        if self._background:
            await asyncio.wait(
                self._background, timeout=self._settings.command_timeout + REPLY_MARGIN + 1
            )
        await cancel(*self._background)
