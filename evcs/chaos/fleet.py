"""Simulated chargers (OCPP 1.6 and 2.0.1) that send numbered MeterValues back to back and
remember exactly which numbers were acknowledged; and what PostgreSQL holds of them."""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import asyncpg
import redis.asyncio as redis

from evcs.chaos.processes import NotInTime, eventually
from shared import registry
from shared.redis_keys import F, Keys
from simulators.charger import CallError, NotConnected, SimCharger
from simulators.runner import make_charger

# The numbered messages use a measurand the simulators never send themselves.
MEASURAND = "Energy.Active.Export.Register"
V16 = "ocpp1.6"
V201 = "ocpp2.0.1"

# (charger, number, wall-clock time it was sent): called once a number is acknowledged
OnAck = Callable[[str, int, float], None]


async def seed(
    pool: asyncpg.Pool,
    rds: redis.Redis,
    keys: Keys,
    partner: str,
    chargers: Iterable[str],
    protocols: dict[str, str] | None = None,
) -> str:
    """A partner owning the chargers (OCPP 1.6 unless `protocols` says otherwise); returns its
    API key."""
    await registry.create_partner(pool, partner, partner_id=partner)
    for cp in chargers:
        protocol = (protocols or {}).get(cp, V16)
        await registry.register_charger(pool, rds, keys, cp, protocol=protocol, partner_id=partner)
    return (await registry.issue_api_key(pool, partner))[1]


def meter_payload(protocol: str, seq: int) -> dict[str, object]:
    """A MeterValues request carrying `seq` as the value of MEASURAND."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    if protocol == V201:
        sample: dict[str, object] = {
            "value": seq,
            "measurand": MEASURAND,
            "context": "Other",
            "unitOfMeasure": {"unit": "Wh"},
        }
        return {"evseId": 1, "meterValue": [{"timestamp": stamp, "sampledValue": [sample]}]}
    sample = {"value": str(seq), "measurand": MEASURAND, "unit": "Wh", "context": "Other"}
    return {"connectorId": 1, "meterValue": [{"timestamp": stamp, "sampledValue": [sample]}]}


@dataclass
class Fleet:
    """Chargers through one URL, each sending numbered MeterValues back to back: OCPP 1.6, or
    the version `protocols` names for a charger."""

    url: str
    ids: list[str]
    pause_s: float = 0.02
    protocols: dict[str, str] = field(default_factory=dict)
    on_ack: OnAck | None = None
    chargers: dict[str, SimCharger] = field(default_factory=dict)
    acked: dict[str, set[int]] = field(default_factory=lambda: collections.defaultdict(set))
    # time.monotonic() at which each charger sent its latest acknowledged message
    last_acked_sent: dict[str, float] = field(default_factory=dict)
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    unanswered: int = 0  # the connection went away before an answer: not acknowledged
    # the numbers answered with a CALLERROR, and those without an answer (a real charger
    # sends both again; these do not, they go on with the next number)
    refused: dict[str, set[int]] = field(default_factory=lambda: collections.defaultdict(set))
    silent: dict[str, set[int]] = field(default_factory=lambda: collections.defaultdict(set))
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _stopping: bool = False

    @property
    def acked_total(self) -> int:
        return sum(len(v) for v in self.acked.values())

    def protocol(self, cp: str) -> str:
        return self.protocols.get(cp, V16)

    def acked_since(self, moment: float) -> bool:
        """Whether every charger had a message acknowledged that it sent after `moment`
        (monotonic): an answer already on its way at that moment does not count."""
        return all(self.last_acked_sent.get(cp, float("-inf")) > moment for cp in self.ids)

    async def start(self) -> None:
        for cp in self.ids:
            # Reconnect fast: the tests measure the platform, not the charger's backoff.
            self.chargers[cp] = make_charger(
                cp, self.url, self.protocol(cp), reconnect_delay=0.2, reconnect_max_delay=1.0
            )
        await asyncio.gather(*(c.start(timeout=20) for c in self.chargers.values()))
        self._tasks = [asyncio.create_task(self._send(c)) for c in self.chargers.values()]

    async def _send(self, charger: SimCharger) -> None:
        cp = charger.charger_id
        protocol = self.protocol(cp)
        seq = 0
        while not self._stopping:
            if not charger.booted:
                await asyncio.sleep(0.02)
                continue
            seq += 1
            sent, sent_at = time.time(), time.monotonic()
            try:
                await charger.call("MeterValues", meter_payload(protocol, seq), timeout=10)
            except CallError as exc:
                self.errors[exc.code] += 1
                self.refused[cp].add(seq)
            except (NotConnected, TimeoutError):
                self.unanswered += 1
                self.silent[cp].add(seq)
            else:
                self.acked[cp].add(seq)
                self.last_acked_sent[cp] = sent_at
                if self.on_ack is not None:
                    self.on_ack(cp, seq, sent)
            await asyncio.sleep(self.pause_s)

    async def stop_sending(self) -> None:
        self._stopping = True
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def stop(self) -> None:
        await self.stop_sending()
        await asyncio.gather(*(c.stop() for c in self.chargers.values()), return_exceptions=True)


async def recorded(pool: asyncpg.Pool, ids: list[str]) -> tuple[dict[str, set[int]], int]:
    """The numbered values in PostgreSQL per charger, and how many rows repeat one."""
    rows = await pool.fetch(
        "SELECT charger_id, value, count(*) AS n FROM meter_values"
        " WHERE charger_id = ANY($1::text[]) AND measurand = $2 GROUP BY charger_id, value",
        ids,
        MEASURAND,
    )
    out: dict[str, set[int]] = collections.defaultdict(set)
    duplicates = 0
    for row in rows:
        out[row["charger_id"]].add(int(row["value"]))
        duplicates += row["n"] - 1
    return out, duplicates


async def lost_and_duplicates(
    pool: asyncpg.Pool, fleet: Fleet, timeout: float = 30
) -> tuple[int, int, int]:
    """Wait for every acknowledged message to reach PostgreSQL; (lost, duplicates, recorded)."""

    async def missing() -> int:
        have, _ = await recorded(pool, fleet.ids)
        return sum(len(fleet.acked[cp] - have.get(cp, set())) for cp in fleet.ids)

    async def all_there() -> bool:
        return await missing() == 0

    try:
        await eventually(all_there, "every acknowledged message in PostgreSQL", timeout)
    except NotInTime:
        pass  # counted below, so the figure says how many are missing
    have, duplicates = await recorded(pool, fleet.ids)
    return await missing(), duplicates, sum(len(v) for v in have.values())


async def node_of(rds: redis.Redis, keys: Keys, cp: str) -> str | None:
    fields = await rds.hgetall(keys.charger(cp))
    return fields.get(F.NODE) if fields.get(F.ONLINE) == "1" else None
