"""The benchmark charts: targets parsed and scored in the right direction, the SVGs drawn from
results files, byte for byte the same when redrawn, the fleet chart only with its series."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from bench import charts
from bench.charts import Target, meets, parse_target, progress, target_rows


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (">= 10,000", Target(higher=True, bound=10_000)),
        ("per core >= 5,000", Target(higher=True, bound=5_000)),
        (">= 60%", Target(higher=True, bound=60)),
        ("< 20", Target(higher=False, bound=20, strict=True)),
        ("<= 20", Target(higher=False, bound=20)),
        ("<= 100", Target(higher=False, bound=100)),
        ("within ±15%", Target(higher=False, bound=15, magnitude=True)),
        ("0", Target(higher=False, bound=0)),
        ("", None),
        ("fast", None),
        ("between 1 and 2", None),
    ],
)
def test_targets_are_parsed(text: str, expected: Target | None) -> None:
    assert parse_target(text) == expected


def test_direction_decides_met_and_progress() -> None:
    higher, lower = parse_target(">= 10,000"), parse_target("< 20")
    assert higher is not None and lower is not None
    assert meets(higher, 10_000) and not meets(higher, 7_500)
    assert progress(higher, 7_500) == pytest.approx(0.75)
    # lower is better: half the bound is twice as good, twice the bound half-way
    assert meets(lower, 10) and not meets(lower, 20) and not meets(lower, 40)
    assert progress(lower, 10) == pytest.approx(2.0)
    assert progress(lower, 40) == pytest.approx(0.5)
    within = parse_target("within ±15%")
    assert within is not None and meets(within, -3) and not meets(within, 16)
    zero = parse_target("0")
    assert zero is not None and meets(zero, 0) and not meets(zero, 2)
    assert progress(zero, 0) == math.inf and progress(zero, 2) == 0.0
    assert not meets(higher, math.nan) and math.isnan(progress(higher, math.nan))


def _figure(scenario: str, metric: str, unit: str, runs: list[float], target: str = "") -> Any:
    return {"scenario": scenario, "metric": metric, "unit": unit, "runs": runs, "target": target}


def _results(folder: Path, stamp: str, figures: list[Any], **extra: Any) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    run = {
        "commit": "abc1234",
        "machine": "x86_64, 2 cores, Python 3.11",
        "versions": "websockets 15",
        "started": stamp,
        "figures": figures,
        "notes": [],
        "notes_by_scenario": {},
        **extra,
    }
    (folder / f"{stamp}.json").write_text(json.dumps(run))


def _curve(top: float) -> dict[str, list[float]]:
    loads = [0.1, 0.5, 1.0]
    return {
        "offered": [top * x for x in loads],
        "achieved": [top * min(x, 0.9) for x in loads],
        "p50_ms": [1.0, 2.0, 40.0],
        "p95_ms": [2.0, 5.0, 80.0],
        "p99_ms": [3.0, 9.0, 120.0],
    }


def _two_runs(folder: Path) -> None:
    """An older and a newer run: p99 got worse past its target, per core got better."""
    _results(
        folder,
        "20260101T000000Z",
        [
            _figure("ingest", "csms per core", "msg/s per core", [6_000, 6_500], ">= 10,000"),
            _figure("ingest", "round trip p99 at 50%", "ms", [15, 16, 17], "< 20"),
            _figure("reads", "single: p95", "ms", [3.0], "fast"),  # not a target we can draw
        ],
    )
    _results(
        folder,
        "20260201T000000Z",
        [
            _figure("ingest", "csms per core", "msg/s per core", [8_000], ">= 10,000"),
            _figure("ingest", "round trip p99 at 50%", "ms", [25, 30, 35], "< 20"),
            _figure("ingest", "new figure", "ms", [1.0], "<= 2"),
        ],
        series={"ingest-latency": _curve(9_000), "reads-latency": _curve(2_500)},
    )


def test_rows_compare_the_oldest_run_with_the_newest(tmp_path: Path) -> None:
    _two_runs(tmp_path)
    rows = {r.metric: r for r in target_rows(charts.load_runs(tmp_path))}
    assert set(rows) == {"csms per core", "round trip p99 at 50%", "new figure"}
    p99 = rows["round trip p99 at 50%"]
    assert (p99.before, p99.after) == (16, 30) and p99.before is not None
    # it met its target before and misses it now: drawn short of the line, in the missed colour
    assert meets(p99.target, p99.before) and not meets(p99.target, p99.after)
    assert progress(p99.target, p99.after) < 1 < progress(p99.target, p99.before)
    per_core = rows["csms per core"]
    assert (per_core.before, per_core.after) == (6_250, 8_000)
    assert rows["new figure"].before is None  # measured once: nothing to compare with


def test_charts_are_drawn_and_identical_when_redrawn(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    _two_runs(tmp_path / "results")
    first = charts.write(tmp_path / "results", tmp_path / "a")
    second = charts.write(tmp_path / "results", tmp_path / "b")
    names = ["targets.svg", "latency-csms.svg", "latency-gateway.svg"]
    assert [p.name for p in first] == [p.name for p in second] == names
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes()
        assert a.read_bytes().startswith(b"<?xml") and b"<svg" in a.read_bytes()
    assert not (tmp_path / "a" / "fleet.svg").exists()  # no fleet series, no fleet chart


def test_fleet_chart_only_when_its_series_is_there(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    results, out = tmp_path / "results", tmp_path / "out"
    _two_runs(results)
    out.mkdir()
    (out / "fleet.svg").write_text("stale")
    assert "fleet.svg" not in [p.name for p in charts.write(results, out)]
    assert not (out / "fleet.svg").exists()  # a chart the results no longer have goes
    t = [float(s) for s in range(0, 120, 5)]
    fleet = {
        "t_s": t,
        "connected": [min(1_000.0, 50 * s) if s < 60 or s > 70 else 0.0 for s in t],
        "csms_cpu_cores": [0.2 + 0.005 * s for s in t],
        "csms_rss_mib": [80 + 0.5 * s for s in t],
        "p99_ms": [5.0 + (40 if 60 <= s <= 75 else 0) for s in t],
        "events": [{"t_s": 62.0, "label": "csms restart"}],
    }
    _results(results, "20260301T000000Z", [], series={"fleet": fleet})
    drawn = charts.write(results, out)
    assert [p.name for p in drawn][-1] == "fleet.svg"
    svg = (out / "fleet.svg").read_text()
    assert "csms restart" in svg and "chargers connected" in svg
