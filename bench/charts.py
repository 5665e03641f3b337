"""The benchmark charts in the docs (docs/benchmarks/*.svg), drawn from bench/results/*.json:
each target's figure first measured and now, latency against offered load for the csms and
the gateway, and the fleet run over time. matplotlib is the `bench` extra, not a dependency of
the services: it is imported only to draw, and everything else here is plain functions.

Series a results file may carry under "series" (bench/ingest.py, bench/reads.py, the fleet
scenario write them):

- "ingest-latency", "reads-latency": {"offered", "achieved", "p50_ms", "p95_ms", "p99_ms"},
  lists of equal length, one entry per offered-load step (rates per second);
- "fleet": {"t_s", "connected", "csms_cpu_cores", "csms_rss_mib"} lists over time, "p99_ms"
  over its own times "p99_t_s" (one point per latency bucket), and "events": [{"t_s", "label"}].
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
import statistics
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.stats import fmt

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure as Chart

Run = dict[str, Any]
Curve = dict[str, list[float]]

# file name -> alt text, in the order the report shows them
CHARTS = {
    "targets.svg": "Each figure with a target, first measured and now, as a fraction of its target",
    "latency-csms.svg": "csms round-trip latency against offered load",
    "latency-gateway.svg": "gateway single status read latency against offered load",
    "fleet.svg": "The fleet run over time: chargers connected, csms CPU and memory, answer p99",
}
CLIP = 2.0  # bars stop at twice the target: beyond it the label carries the number
CURVE_KEYS = ("offered", "achieved", "p50_ms", "p95_ms", "p99_ms")
MET, MISSED, BEFORE = "#2a9d8f", "#e76f51", "#b8b8b8"


def available() -> bool:
    """Whether matplotlib (the `bench` extra) is installed."""
    return importlib.util.find_spec("matplotlib") is not None


# --- targets: plain functions, no matplotlib --------------------------------------------


@dataclass(frozen=True)
class Target:
    higher: bool  # higher is better (">="); else lower is better ("<", "<=", "0")
    bound: float
    strict: bool = False  # ">" or "<": the bound itself misses
    magnitude: bool = False  # "within ±X": the value's distance from zero counts


_TARGET = re.compile(r"(?:per core\s+)?(>=|≥|>|<=|≤|<|within\s*±?)?\s*(\d[\d,]*(?:\.\d+)?)\s*%?")


def parse_target(text: str) -> Target | None:
    """A target such as ">= 10,000", "< 20", "within ±15%" or "0"; None if not one of those."""
    m = _TARGET.fullmatch(text.strip().lower())
    if m is None:
        return None
    op, bound = (m[1] or "").replace(" ", ""), float(m[2].replace(",", ""))
    if op.startswith("within"):
        return Target(higher=False, bound=bound, magnitude=True)
    if op in (">=", "≥", ">"):
        return Target(higher=True, bound=bound, strict=op == ">")
    # "<", "<=", or a bare number: the most it may be
    return Target(higher=False, bound=bound, strict=op == "<")


def meets(target: Target, value: float) -> bool:
    """Whether a measured value meets its target (NaN never does)."""
    v = abs(value) if target.magnitude else value
    if math.isnan(v):
        return False
    if target.higher:
        return v > target.bound if target.strict else v >= target.bound
    return v < target.bound if target.strict else v <= target.bound


def progress(target: Target, value: float) -> float:
    """Share of the target reached (1.0 on it): value / bound, or bound / value if lower wins."""
    v = abs(value) if target.magnitude else value
    if math.isnan(v):
        return math.nan
    num, den = (v, target.bound) if target.higher else (target.bound, v)
    if den <= 0:  # a bound of 0, or a value of 0 under a "<": all or nothing
        return math.inf if meets(target, value) else 0.0
    return max(0.0, num / den)


@dataclass(frozen=True)
class Row:
    scenario: str
    metric: str
    unit: str
    target_text: str
    target: Target
    before: float | None  # the oldest results file's median; None if only measured once
    after: float


def load_runs(results: Path) -> list[Run]:
    """Every results file, oldest first (the file names are their start times)."""
    return [json.loads(p.read_text()) for p in sorted(results.glob("*.json"))]


def latest_figures(runs: list[Run]) -> list[dict[str, Any]]:
    """Each scenario's figures from the newest run that measured it, as the report shows them."""
    order = dict.fromkeys(f["scenario"] for run in runs for f in run["figures"])
    out: list[dict[str, Any]] = []
    for scenario in order:
        newest = next(
            r for r in reversed(runs) if any(f["scenario"] == scenario for f in r["figures"])
        )
        out += [f for f in newest["figures"] if f["scenario"] == scenario]
    return out


def _median(figure: dict[str, Any]) -> float:
    runs = figure.get("runs") or []
    return float(statistics.median(runs)) if runs else math.nan


def target_rows(runs: list[Run]) -> list[Row]:
    """Every current figure with a target it can be measured against: now, and first measured."""
    rows: list[Row] = []
    for f in latest_figures(runs):
        target, after = parse_target(f.get("target") or ""), _median(f)
        if target is None or math.isnan(after):
            continue
        key = (f["scenario"], f["metric"])
        first = next(
            (g for r in runs for g in r["figures"] if (g["scenario"], g["metric"]) == key), f
        )
        before = None if first is f else _median(first)
        rows.append(Row(*key, f["unit"], f["target"], target, before, after))
    return rows


def _curve(value: object) -> Curve | None:
    """A latency-against-load series, if `value` is a well-formed one."""
    if not isinstance(value, dict) or not all(isinstance(value.get(k), list) for k in CURVE_KEYS):
        return None
    lengths = {len(value[k]) for k in CURVE_KEYS}
    return (
        {k: [float(x) for x in value[k]] for k in CURVE_KEYS}
        if lengths != {0} and len(lengths) == 1
        else None
    )


def newest_series(runs: list[Run], name: str) -> tuple[Run, Any] | None:
    """The newest run that has the series `name`, with it."""
    for run in reversed(runs):
        series = (run.get("series") or {}).get(name)
        if series:
            return run, series
    return None


_LOAD_POINT = re.compile(r"round trip p(50|95|99) at (\d+)%")


def legacy_ingest_curve(run: Run) -> Curve | None:
    """Latency at the fixed loads (50%, 90%) of an ingest run from before the sweep, as a curve."""
    figures = {f["metric"]: _median(f) for f in run["figures"] if f["scenario"] == "ingest"}
    top = figures.get("csms, closed loop", math.nan)
    loads = sorted({int(m[2]) for k in figures if (m := _LOAD_POINT.fullmatch(k))})
    curve: Curve = {k: [] for k in CURVE_KEYS}
    for load in loads:
        curve["offered"].append(load / 100 * top)
        curve["achieved"].append(figures.get(f"achieved rate at {load}%", math.nan))
        for q in (50, 95, 99):
            curve[f"p{q}_ms"].append(figures.get(f"round trip p{q} at {load}%", math.nan))
    return curve if loads and not math.isnan(top) else None


def _latency_source(runs: list[Run], name: str) -> tuple[Run, Curve, str] | None:
    """(run, curve, how it was measured); an ingest run from before the sweep gives two loads."""
    found = newest_series(runs, name)
    if found is not None and (curve := _curve(found[1])) is not None:
        return found[0], curve, "offered-load sweep"
    if name != "ingest-latency":
        return None
    for run in reversed(runs):
        if any(f["scenario"] == "ingest" for f in run["figures"]):
            legacy = legacy_ingest_curve(run)
            return (run, legacy, "the two fixed loads (before the sweep)") if legacy else None
    return None


# --- drawing ------------------------------------------------------------------------------


def _stamp(run: Run) -> str:
    """Which run a chart shows."""
    started, commit, machine = (run.get(k, "?") for k in ("started", "commit", "machine"))
    return f"{started} · commit {commit} · {machine}"


def _targets_chart(rows: list[Row]) -> Chart:
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    # narrow axes: the row names on the left and the numbers on the right take the width
    fig = Figure(figsize=(3.6, 0.9 + 0.44 * len(rows)))
    ax = fig.subplots()
    y = list(range(len(rows)))[::-1]  # the first row on top
    for yi, row in zip(y, rows, strict=True):
        colour = MET if meets(row.target, row.after) else MISSED
        ax.barh(yi - 0.17, min(progress(row.target, row.after), CLIP), 0.34, color=colour)
        if row.before is not None:
            ax.barh(yi + 0.17, min(progress(row.target, row.before), CLIP), 0.34, color=BEFORE)
        ax.annotate(
            _value_label(row),
            (1.0, yi),
            xycoords=("axes fraction", "data"),
            xytext=(6, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    ax.axvline(1.0, color="#333333", linewidth=1, linestyle="--")
    ax.set_yticks(y, [textwrap.fill(f"{r.scenario}: {r.metric}", 40) for r in rows], fontsize=8)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_xlim(0, CLIP)
    ax.set_xticks([0, 1, 2], ["0", "target", "2× it"])  # noqa: RUF001 (the multiplication sign)
    ax.set_xlabel("share of the target reached\n(for lower-is-better: target ÷ value)", fontsize=8)
    ax.set_title("Targets: now, and first measured", loc="left")
    ax.legend(
        handles=[
            Patch(color=MET, label="now, met"),
            Patch(color=MISSED, label="now, missed"),
            Patch(color=BEFORE, label="first measured"),
        ],
        loc="lower left",
        bbox_to_anchor=(1.0, 1.0),
        ncols=3,
        fontsize=7,
        frameon=False,
    )
    return fig


def _value_label(row: Row) -> str:
    unit = row.unit if row.unit == "%" else f" {row.unit}"
    then = f"{fmt(row.before)} → " if row.before is not None else ""
    target = row.target_text.replace(">=", "≥").replace("<=", "≤")
    return f"{then}{fmt(row.after)}{unit}   target {target}"


def _latency_chart(run: Run, curve: Curve, how: str, what: str, unit: str) -> Chart:
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    fig = Figure(figsize=(6.4, 4.6))
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1.3])
    x = curve["offered"]
    for q, style in (("p50", "o-"), ("p95", "s-"), ("p99", "^-")):
        top.plot(x, curve[f"{q}_ms"], style, label=q, markersize=4)
    top.set_yscale("log")
    top.set_ylabel("latency (ms, log)")
    # 1-2-5 steps, written out: a log axis of bare powers of ten is hard to read off
    top.yaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
    top.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    top.yaxis.set_minor_formatter(NullFormatter())
    top.grid(True, which="major", color="#e6e6e6")
    top.legend(fontsize=8, loc="upper left")
    top.set_title(f"{what}: latency against offered load\n{_stamp(run)}\n{how}", loc="left")
    bottom.plot(x, curve["achieved"], "o-", color="#555555", markersize=4, label="achieved")
    bottom.plot([0, max(x)], [0, max(x)], ":", color="#999999", label="= offered")
    bottom.set_ylabel(f"achieved\n({unit})")
    bottom.set_xlabel(f"offered load ({unit})")
    bottom.set_xlim(0, max(x) * 1.05)
    # a figure missing from an old run is NaN: drawn as a gap, left out of the limits
    bottom.set_ylim(0, max(v for v in [*x, *curve["achieved"]] if math.isfinite(v)) * 1.1)
    bottom.legend(fontsize=7, loc="upper left")
    bottom.grid(True, color="#e6e6e6")
    fig.align_ylabels([top, bottom])
    return fig


def _fleet_chart(run: Run, series: dict[str, Any]) -> Chart | None:
    from matplotlib.figure import Figure

    t = series.get("t_s") or []
    panels = [
        keys
        for keys in (("connected",), ("csms_cpu_cores", "csms_rss_mib"), ("p99_ms",))
        if any(len(series.get(k) or []) == len(_times(series, k)) for k in keys)
    ]
    if not t or not panels:
        return None
    fig = Figure(figsize=(6.4, 1.2 + 1.4 * len(panels)))
    axes: list[Axes] = list(fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0])
    for ax, keys in zip(axes, panels, strict=True):
        _fleet_panel(ax, series, keys)
        for event in series.get("events") or []:
            ax.axvline(event["t_s"], color="#888888", linestyle="--", linewidth=0.8)
    for event in series.get("events") or []:
        axes[0].annotate(
            event["label"],
            (event["t_s"], 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(3, -10),
            textcoords="offset points",
            fontsize=7,
            color="#555555",
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 1},  # readable over a curve
        )
    axes[-1].set_xlabel("time since the start (s)")
    axes[0].set_title(f"Fleet run over time\n{_stamp(run)}", loc="left", fontsize=9)
    fig.align_ylabels(axes)
    return fig


_FLEET_LABELS = {
    "connected": ("chargers connected", "#264653"),
    "csms_cpu_cores": ("csms CPU (cores)", "#2a9d8f"),
    "csms_rss_mib": ("csms memory (MiB)", "#e9a23b"),
    "p99_ms": ("answer p99 (ms)", "#e76f51"),
}


def _times(series: dict[str, Any], key: str) -> list[float]:
    """A measure's own time axis when it has one (the p99 per latency bucket: "p99_t_s"),
    else the samples' ("t_s")."""
    own = series.get(key.removesuffix("_ms") + "_t_s")
    return list(own if own is not None else series.get("t_s") or [])


def _fleet_panel(ax: Axes, series: dict[str, Any], keys: tuple[str, ...]) -> None:
    """One panel; a second measure in the same panel gets its own axis on the right."""
    from matplotlib.ticker import FuncFormatter

    for i, key in enumerate(keys):
        values = series.get(key) or []
        times = _times(series, key)
        if len(values) != len(times):
            continue
        label, colour = _FLEET_LABELS[key]
        target = ax if i == 0 else ax.twinx()
        target.plot(times, values, color=colour, linewidth=1.2)
        target.set_ylabel(label, color=colour, fontsize=8)
        target.set_ylim(bottom=0)
        target.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.4g}"))
        if i == 0:
            target.grid(True, color="#e6e6e6")
        else:
            target.spines["right"].set_visible(True)


def _charts(runs: list[Run]) -> dict[str, Chart | None]:
    """Every chart the runs have data for (None: no data for it)."""
    rows = target_rows(runs)
    out: dict[str, Chart | None] = {"targets.svg": _targets_chart(rows) if rows else None}
    for name, key, what, unit in (
        (
            "latency-csms.svg",
            "ingest-latency",
            "csms (ingest, StatusNotification and MeterValues)",
            "msg/s",
        ),
        ("latency-gateway.svg", "reads-latency", "gateway (single status reads)", "req/s"),
    ):
        found = _latency_source(runs, key)
        out[name] = _latency_chart(found[0], found[1], found[2], what, unit) if found else None
    fleet = newest_series(runs, "fleet")
    out["fleet.svg"] = _fleet_chart(*fleet) if fleet and isinstance(fleet[1], dict) else None
    return out


def _save(chart: Chart, path: Path) -> None:
    chart.savefig(path, format="svg", metadata={"Date": None}, bbox_inches="tight")


def write(results: Path, out: Path) -> list[Path]:
    """Draw the charts the results have data for into `out`; the files written, in report order."""
    import matplotlib

    runs = load_runs(results)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    # Figure objects straight to SVG, no pyplot: no GUI backend is ever chosen (as with Agg),
    # and the settings apply to these charts only, not to the rest of the process.
    # Regenerating from the same results must give the same bytes (no churn in git): a fixed
    # salt for the SVG ids, text as text (not glyph paths, also smaller), no date (_save).
    with matplotlib.rc_context(
        {
            "svg.hashsalt": "evcs-bench",
            "svg.fonttype": "none",
            "font.family": "sans-serif",
            # measured with DejaVu Sans (matplotlib ships it); a short fallback list per text
            "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
            "font.size": 9,
            "axes.titlesize": 10,
            "axes.spines.top": False,
            "axes.spines.right": False,
            # a white card reads the same in the light and the dark docs theme
            "figure.facecolor": "white",
            "axes.facecolor": "white",
            "savefig.facecolor": "white",
        }
    ):
        for name, chart in _charts(runs).items():
            path = out / name
            if chart is None:  # no stale chart from data the results no longer have
                path.unlink(missing_ok=True)
                continue
            _save(chart, path)
            written.append(path)
    return written
