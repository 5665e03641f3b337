"""Which acknowledged messages PostgreSQL does not hold yet, checked as the run goes: a query
reads only the rows received since the oldest message still outstanding, so it stays cheap
however long the run is."""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field

import asyncpg

from evcs.chaos.fleet import MEASURAND

# An event is in the stream before its charger is answered, so its row's received_at (the
# stream entry's time) lies between sending and the acknowledgement; this covers clock steps.
MARGIN_S = 2.0
# A message missing this long stops holding the window open (the final count finds it).
OVERDUE_S = 120.0


@dataclass
class Pending:
    sent: float  # wall clock (time.time()), comparable with received_at
    acked: float  # time.monotonic()


@dataclass
class Ledger:
    ids: list[str]
    outstanding: dict[str, dict[int, Pending]] = field(
        default_factory=lambda: collections.defaultdict(dict)
    )
    overdue: dict[str, dict[int, Pending]] = field(
        default_factory=lambda: collections.defaultdict(dict)
    )
    confirmed: int = 0

    def acknowledged(self, cp: str, seq: int, sent: float) -> None:
        """Fleet.on_ack: a message that PostgreSQL must come to hold."""
        self.outstanding[cp][seq] = Pending(sent, time.monotonic())

    async def check(self, pool: asyncpg.Pool) -> None:
        """Strike off what PostgreSQL holds now."""
        oldest = min((p.sent for w in self.outstanding.values() for p in w.values()), default=None)
        if oldest is None:
            return
        rows = await pool.fetch(
            "SELECT charger_id, value FROM meter_values WHERE charger_id = ANY($1::text[])"
            " AND received_at >= to_timestamp($2) AND measurand = $3",
            self.ids,
            oldest - MARGIN_S,
            MEASURAND,
        )
        for row in rows:
            if self.outstanding[row["charger_id"]].pop(int(row["value"]), None) is not None:
                self.confirmed += 1
        now = time.monotonic()
        for cp, waiting in self.outstanding.items():
            for seq in [s for s, p in waiting.items() if now - p.acked > OVERDUE_S]:
                self.overdue[cp][seq] = waiting.pop(seq)

    def when_acked(self, cp: str, seq: int) -> float | None:
        """time.monotonic() of the acknowledgement of a message not confirmed yet."""
        pending = self.outstanding[cp].get(seq) or self.overdue[cp].get(seq)
        return None if pending is None else pending.acked

    def missing(self, acked_before: float = float("inf")) -> int:
        """Messages acknowledged before `acked_before` (monotonic) not seen in PostgreSQL yet."""
        return sum(
            1 for w in self.outstanding.values() for p in w.values() if p.acked < acked_before
        )

    async def holds_all(self, pool: asyncpg.Pool, acked_before: float) -> bool:
        """Whether PostgreSQL holds every message acknowledged before `acked_before`; False
        while it cannot be asked."""
        try:
            await self.check(pool)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            return False
        return self.missing(acked_before) == 0
