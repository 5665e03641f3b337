"""One soak run: start the system, inject the planned faults until the time is up, let it
settle, count, print the summary, stop everything."""

from __future__ import annotations

import asyncio
import random
import shutil
import signal
import tempfile
import time
from pathlib import Path

from evcs.chaos import plan
from evcs.chaos.faults import RECOVERY_TIMEOUT_S, Injector
from evcs.chaos.fleet import MEASURAND, V16, V201, recorded
from evcs.chaos.partner import Partner
from evcs.chaos.plan import Options
from evcs.chaos.processes import NotInTime, eventually
from evcs.chaos.summary import Measured, Totals, render
from evcs.chaos.system import NODES, System

PAUSE_S = 0.05  # between one charger's acknowledged message and its next
FINAL_WAIT_S = 120.0  # for PostgreSQL to hold everything acknowledged, at the end
SLOW_S = 2.0  # a recovery slower than this names the charger(s) that took longest


async def soak(options: Options, kinds: list[str]) -> int:
    work = Path(tempfile.mkdtemp(prefix="evcs-soak-"))
    topology = (
        f"Redis Cluster of {options.shards} primaries with a replica each"
        if options.shards > 1
        else "single Redis (csms nodes reach it through a proxy that cuts the link)"
    )
    print(f"chaos soak: seed {options.seed}, {options.minutes:g} min, {topology}", flush=True)
    print(f"faults: {', '.join(kinds)}", flush=True)
    if options.shards > 1:
        print("no link cuts on a cluster: its clients connect to the nodes it names", flush=True)
    print(f"logs: {work / 'logs'}", flush=True)
    stop = _stop_on_signals()
    system = System(work, options.shards, options.chargers, PAUSE_S)
    partner: Partner | None = None
    totals = Totals(
        options.minutes, options.seed, topology, {V16: options.chargers, V201: options.chargers}
    )
    counted = False
    try:
        started = time.monotonic()
        await system.start()
        print(f"system up in {time.monotonic() - started:.1f}s; faults begin", flush=True)
        partner = Partner(system.api, system.api_key, system.ids, random.Random(options.seed + 1))
        partner.start()
        await _inject(system, partner, options, kinds, totals, stop)
        totals.minutes = (time.monotonic() - partner.since) / 60  # less after a Ctrl-C
        print("faults over; the last commands and messages finishing…", flush=True)
        await partner.stop()
        totals.commands = partner.commands
        totals.died += await system.replace_dead()
        await _count(system, totals, time.time() - (time.monotonic() - partner.since))
        counted = True
        print(render(totals), flush=True)
    finally:
        if partner is not None:
            await partner.stop()
        await system.stop()
        _clean_up(work, counted and totals.passed and not options.keep_logs)
    return 0 if totals.passed else 1


def _stop_on_signals() -> asyncio.Event:
    """The first Ctrl-C (or SIGTERM) ends the faults and goes to the summary; the second
    aborts (everything started is stopped all the same)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    main_task = asyncio.current_task()

    def on_signal() -> None:
        if stop.is_set() and main_task is not None:
            main_task.cancel()
            return
        stop.set()
        print("\nstopping after the current fault (again to abort)…", flush=True)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    return stop


async def _inject(
    system: System,
    partner: Partner,
    options: Options,
    kinds: list[str],
    totals: Totals,
    stop: asyncio.Event,
) -> None:
    rng = random.Random(options.seed)
    injector = Injector(system, partner)
    began = partner.since
    deadline = began + options.minutes * 60
    targets = {"csms-kill": NODES, "recorder-kill": NODES, "gateway-kill": NODES}
    targets["primary-failover"] = options.shards
    for fault in plan.schedule(rng, kinds, targets):
        if await _stopped_within(stop, min(fault.pause, deadline - time.monotonic())):
            break
        if time.monotonic() >= deadline:
            break
        at = time.monotonic() - began
        try:
            measured, detail = await injector.inject(fault)
        except Exception as exc:  # the fault could not be carried out: nothing to measure
            totals.faults.append(Measured(fault.kind, 0.0, None))
            totals.notes.append(f"{fault.kind} at {at:.1f}s could not be carried out: {exc!r}")
            print(f"[{at:7.1f}s] {fault.kind}: FAILED {exc!r}", flush=True)
            break
        totals.faults.append(measured)
        recovery = "NOT RECOVERED" if measured.recovery is None else f"{measured.recovery:.2f}s"
        if injector.slowest and (measured.recovery or RECOVERY_TIMEOUT_S) > SLOW_S:
            recovery += f" (the last: {injector.slowest})"
        print(
            f"[{at:7.1f}s] {fault.kind} ({detail}): outage {measured.outage:.2f}s, recovered"
            f" {recovery}; acknowledged {system.fleet.acked_total:,}, commands"
            f" {partner.commands.sent:,}",
            flush=True,
        )
        for said in await system.replace_dead():
            totals.died.append(said)
            print(f"  exited by itself, started again: {said}", flush=True)
        if measured.recovery is None:
            totals.notes.append(f"no more faults after {fault.kind} at {at:.1f}s did not recover")
            break


async def _stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(stop.wait(), max(0.0, seconds))
    except TimeoutError:
        return False
    return True


async def _count(system: System, totals: Totals, began_wall: float) -> None:
    """Stop the chargers, wait for PostgreSQL to hold what they were told it has, count."""
    fleet, ledger = system.fleet, system.ledger
    await fleet.stop_sending()
    try:
        await eventually(
            lambda: ledger.holds_all(system.pool, float("inf")),
            "everything acknowledged in PostgreSQL",
            FINAL_WAIT_S,
        )
    except NotInTime:
        pass  # counted below
    have, totals.duplicates = await recorded(system.pool, system.ids)
    totals.acked = fleet.acked_total
    totals.charger_errors = fleet.errors
    totals.charger_unanswered = fleet.unanswered
    lost = [(cp, seq) for cp in system.ids for seq in sorted(fleet.acked[cp] - have.get(cp, set()))]
    totals.lost = len(lost)
    totals.stored_refused = sum(len(have.get(cp, set()) & fleet.refused[cp]) for cp in system.ids)
    totals.stored_silent = sum(len(have.get(cp, set()) & fleet.silent[cp]) for cp in system.ids)
    for cp, seq in lost[:10]:
        acked = ledger.when_acked(cp, seq)
        ago = (
            ""
            if acked is None
            else f", acknowledged {time.monotonic() - acked:.0f}s before the count"
        )
        totals.notes.append(f"lost: {cp} #{seq}{ago}")
    refused = [
        (cp, seq) for cp in system.ids for seq in sorted(have.get(cp, set()) & fleet.refused[cp])
    ]
    if refused:
        rows = await system.pool.fetch(
            "SELECT charger_id, value, extract(epoch FROM received_at) AS at FROM meter_values"
            " WHERE charger_id = ANY($1::text[]) AND measurand = $2 AND value = ANY($3::float8[])",
            [cp for cp, _ in refused],
            MEASURAND,
            [float(seq) for _, seq in refused],
        )
        wanted = set(refused)
        totals.notes += [
            f"stored though refused: {r['charger_id']} #{int(r['value'])}, written to the stream"
            f" {float(r['at']) - began_wall:.2f}s into the faults"
            for r in rows
            if (r["charger_id"], int(r["value"])) in wanted
        ][:10]
    if totals.duplicates:
        rows = await system.pool.fetch(
            "SELECT charger_id, value, array_agg(stream_id ORDER BY stream_id) AS ids"
            " FROM meter_values WHERE charger_id = ANY($1::text[]) AND measurand = $2"
            " GROUP BY charger_id, value HAVING count(*) > 1 ORDER BY charger_id, value LIMIT 10",
            system.ids,
            MEASURAND,
        )
        totals.notes += [
            f"duplicated: {r['charger_id']} #{int(r['value'])} as {r['ids']}" for r in rows
        ]


def _clean_up(work: Path, everything: bool) -> None:
    """Remove the folder, or all but the logs (and say where they are)."""
    if everything:
        shutil.rmtree(work, ignore_errors=True)
        return
    for name in ("pg", "redis"):
        shutil.rmtree(work / name, ignore_errors=True)
    print(f"logs kept in {work / 'logs'}", flush=True)
