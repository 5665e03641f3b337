"""How fast this machine runs pure Python today: a fixed loop timed at the start and the end of
a benchmark run, recorded with its figures. A shared or throttled machine can run at a third of
its usual speed, and every figure moves with it; the loop says so beside them."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

ADDITIONS = 10_000_000


def loop_seconds(repeat: int = 3) -> float:
    """The fastest of `repeat` timings of ADDITIONS additions in a Python loop (seconds)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        total = 0
        for i in range(ADDITIONS):
            total += i
        best = min(best, time.perf_counter() - started)
    return best


def describe(loop: Sequence[float] | None) -> str:
    """The timings as the report's machine column shows them ("" for a run without them)."""
    if not loop:
        return ""
    low, high = min(loop), max(loop)
    spread = f"{low:.2f} s" if round(low, 2) == round(high, 2) else f"{low:.2f}-{high:.2f} s"
    return f", pure-Python loop {spread}"


def published(runs: Sequence[dict[str, Any]]) -> list[float]:
    """Every loop timing recorded with the runs the report shows."""
    return [t for run in runs for t in run.get("loop_seconds") or ()]


def compare(now: float, before: Sequence[float]) -> str:
    """One line on how today's machine compares with the one the report's figures came from."""
    line = f"machine: {ADDITIONS:,} additions in a Python loop took {now:.2f} s"
    if not before:
        return line
    low, high = min(before), max(before)
    line += f" (the report's figures: {low:.2f}-{high:.2f} s)"
    if now > 1.2 * high:
        line += f"; this machine is {now / high:.1f}x slower now: expect its figures to read worse"
    return line
