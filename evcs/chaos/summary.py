"""The figures of a soak run, whether it passed, and the summary it prints."""

from __future__ import annotations

import collections
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from evcs.chaos.plan import KINDS

# Answers that are the platform's own: the charger's (200), offline (409), node unreachable
# (503), no answer in time (504), the charger's OCPP error (502).
EXPECTED_STATUSES = frozenset({200, 409, 502, 503, 504})


@dataclass(frozen=True)
class Measured:
    kind: str
    outage: float  # seconds from the fault until it was undone (restarted, back, restored)
    recovery: float | None  # seconds until recovered (plan.KINDS says from when); None: never


@dataclass
class Commands:
    """Partner commands: each one has an HTTP answer, was cut by a gateway kill, or neither."""

    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    conflicts: collections.Counter[str] = field(default_factory=collections.Counter)  # 409s
    cut_by_kill: int = 0
    unanswered: list[str] = field(default_factory=list)  # what happened, for the summary
    unexpected: list[str] = field(default_factory=list)  # answers outside EXPECTED_STATUSES

    @property
    def answered(self) -> int:
        return sum(self.statuses.values())

    @property
    def sent(self) -> int:
        return self.answered + self.cut_by_kill + len(self.unanswered)


def cut_by_kill(started: float, ended: float, kills: Sequence[float], grace: float) -> bool:
    """Whether a request that got no answer was cut by a gateway kill: one happened while it
    was in flight, or just before it started (its connection to the killed gateway was still
    being torn down: up to `grace` seconds)."""
    return any(started - grace <= kill <= ended for kill in kills)


@dataclass
class Totals:
    minutes: float
    seed: int
    topology: str
    chargers: dict[str, int]  # per OCPP version
    acked: int = 0
    lost: int = 0
    duplicates: int = 0
    # stored though the charger was told otherwise (CALLERROR), or heard nothing: a real
    # charger sends those again, which stores them twice
    stored_refused: int = 0
    stored_silent: int = 0
    charger_errors: collections.Counter[str] = field(default_factory=collections.Counter)
    charger_unanswered: int = 0
    commands: Commands = field(default_factory=Commands)
    faults: list[Measured] = field(default_factory=list)
    died: list[str] = field(default_factory=list)  # processes that exited without being killed
    notes: list[str] = field(default_factory=list)

    @property
    def unrecovered(self) -> int:
        return sum(1 for f in self.faults if f.recovery is None)

    @property
    def passed(self) -> bool:
        return not (
            self.lost
            or self.duplicates
            or self.commands.unanswered
            or self.unrecovered
            or self.died
        )


def spread(values: Sequence[float]) -> tuple[float, float, float] | None:
    """(min, median, max), or None without values."""
    if not values:
        return None
    return min(values), statistics.median(values), max(values)


def fault_rows(faults: Sequence[Measured]) -> list[tuple[str, int, str, str]]:
    """Per kind, in order of first appearance: count, median outage, recovery min/median/max
    (and how many never recovered)."""
    by_kind: dict[str, list[Measured]] = {}
    for f in faults:
        by_kind.setdefault(f.kind, []).append(f)
    rows = []
    for kind, done in by_kind.items():
        outage = spread([f.outage for f in done])
        recovered = spread([f.recovery for f in done if f.recovery is not None])
        text = "-" if recovered is None else " / ".join(f"{v:.2f}" for v in recovered)
        never = sum(1 for f in done if f.recovery is None)
        if never:
            text += f"  ({never} NEVER RECOVERED)"
        rows.append((kind, len(done), "-" if outage is None else f"{outage[1]:.2f}", text))
    return rows


def render(t: Totals) -> str:
    c = t.commands
    statuses = ", ".join(f"{code}: {n:,}" for code, n in sorted(c.statuses.items()))
    conflicts = ", ".join(f"{why} {n:,}" for why, n in c.conflicts.most_common())
    refused = ", ".join(f"{code} {n:,}" for code, n in sorted(t.charger_errors.items()))
    versions = " + ".join(f"{n} OCPP {v.removeprefix('ocpp')}" for v, n in t.chargers.items())
    lines = [
        "",
        "=" * 78,
        f"chaos soak: {t.minutes:.1f} min of faults, seed {t.seed}, {t.topology}",
        f"chargers: {versions}",
        f"messages acknowledged: {t.acked:,}",
        f"  lost (acknowledged, not in PostgreSQL): {t.lost:,}",
        f"  duplicated (extra rows for one message): {t.duplicates:,}",
        f"  refused with CALLERROR (not acknowledged, never counted): {refused or 'none'}",
        f"  no answer (connection lost, timeout; not acknowledged): {t.charger_unanswered:,}",
        f"  stored though refused with a CALLERROR: {t.stored_refused:,}; stored though never"
        f" answered: {t.stored_silent:,} (a real charger sends these again: a second row each)",
        f"partner commands sent: {c.sent:,}",
        f"  answered: {c.answered:,} ({statuses or 'none'})",
        # 409: not connected (EVSE_OFFLINE), or not applicable now (NOT_SUPPORTED)
        *([f"    409: {conflicts}"] if conflicts else []),
        f"  unanswered: {len(c.unanswered):,}",
        f"  cut by a gateway kill: {c.cut_by_kill:,} (in flight on the gateway that was"
        " SIGKILLed: no process can answer those, so they do not fail the run)",
    ]
    lines += [f"    {u}" for u in c.unanswered[:10]]
    if c.unexpected:
        lines.append(f"  NOTE answers other than {sorted(EXPECTED_STATUSES)}: {len(c.unexpected)}")
        lines += [f"    {u}" for u in c.unexpected[:10]]
    lines += [
        "faults (seconds):",
        f"  {'kind':<17}{'count':>6}{'outage':>9}  recovery min / median / max",
    ]
    lines += [
        f"  {kind:<17}{n:>6}{outage:>9}  {rec}" for kind, n, outage, rec in fault_rows(t.faults)
    ]
    lines.append("  outage: until the process was restarted, the server or link back.")
    for kind in dict.fromkeys(f.kind for f in t.faults):
        lines.append(f"  {kind}: recovered when {KINDS[kind].recovered}")
    lines += [f"process exited by itself: {d}" for d in t.died]
    lines += [f"note: {n}" for n in t.notes]
    verdict = "PASS" if t.passed else "FAIL"
    lines.append(
        f"result: {verdict} (lost {t.lost}, duplicated {t.duplicates}, commands unanswered "
        f"{len(c.unanswered)}, faults never recovered {t.unrecovered}, processes died "
        f"{len(t.died)})"
    )
    lines.append("=" * 78)
    return "\n".join(lines)
