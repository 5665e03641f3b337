"""Figures: the median of several runs with min and max, and latency percentiles."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Figure:
    scenario: str
    metric: str
    unit: str
    runs: list[float] = field(default_factory=list)
    target: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.runs) if self.runs else float("nan")

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(
            median=self.median, min=min(self.runs, default=None), max=max(self.runs, default=None)
        )
        return d


def percentile(sorted_values: list[int], q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return float(sorted_values[k])


def bucket_quantile(
    before: list[tuple[float, float]], after: list[tuple[float, float]], q: float
) -> float:
    """The q-quantile of what a cumulative histogram counted between two readings, interpolated
    linearly within its bucket (as Prometheus' histogram_quantile does); NaN if nothing was,
    or if the readings do not belong together (other buckets, or a count that went down: the
    process restarted in between)."""
    if [le for le, _ in before] != [le for le, _ in after] or not 0 <= q <= 1:
        return float("nan")
    counts = [(le, b - a) for (le, b), (_, a) in zip(after, before, strict=True)]
    if any(count < 0 for _, count in counts):
        return float("nan")
    total = counts[-1][1] if counts else 0
    if total <= 0:
        return float("nan")
    rank = q * total
    lower, below = 0.0, 0.0
    for le, count in counts:
        if count >= rank:
            if le == float("inf"):
                return lower  # past the last bound: all that can be said
            return lower + (le - lower) * (rank - below) / max(count - below, 1e-12)
        lower, below = le, count
    return lower


def fmt(value: float) -> str:
    if value != value:  # NaN
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def table(figures: list[Figure]) -> str:
    lines = [
        "| scenario | metric | median | min - max | unit | target |",
        "|---|---|---|---|---|---|",
    ]
    for f in figures:
        lo, hi = min(f.runs, default=float("nan")), max(f.runs, default=float("nan"))
        spread = f"{fmt(lo)} - {fmt(hi)}"
        lines.append(
            f"| {f.scenario} | {f.metric} | {fmt(f.median)} | {spread} | {f.unit} | {f.target} |"
        )
    return "\n".join(lines)
