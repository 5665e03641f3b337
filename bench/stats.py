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
