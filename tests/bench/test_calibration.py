"""The machine's speed beside the figures: a loop timed at a run's start and end, shown in the
report's machine column, and today's machine compared with the report's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import calibration, cli


def test_the_loop_is_timed() -> None:
    assert 0 < calibration.loop_seconds(1) < 60


def test_timings_read_as_one_figure_or_a_range() -> None:
    assert calibration.describe([0.412, 0.449]) == ", pure-Python loop 0.41-0.45 s"
    assert calibration.describe([0.5, 0.501]) == ", pure-Python loop 0.50 s"
    assert calibration.describe(None) == calibration.describe([]) == ""  # an older run


def test_a_machine_much_slower_than_the_reports_says_so() -> None:
    assert "slower" not in calibration.compare(0.5, [0.45, 0.48])
    slow = calibration.compare(1.5, [0.4, 0.5])
    assert "(the report's figures: 0.40-0.50 s)" in slow
    assert "3.0x slower" in slow
    assert calibration.compare(1.5, []).endswith("took 1.50 s")  # nothing to compare with


def _run(folder: Path, stamp: str, scenario: str, **extra: object) -> None:
    figure = {"scenario": scenario, "metric": "m", "unit": "ms", "runs": [1.0], "target": ""}
    run = {
        "commit": "abc1234",
        "machine": "x86_64, 2 cores, Python 3.11",
        "versions": "v",
        "started": stamp,
        "figures": [figure],
        "notes": [],
        "notes_by_scenario": {},
        **extra,
    }
    (folder / f"{stamp}.json").write_text(json.dumps(run))


def test_the_report_shows_each_runs_loop_beside_its_machine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = tmp_path / "results"
    results.mkdir()
    _run(results, "20260101T000000Z", "ingest")  # from before the loop was timed
    _run(results, "20260201T000000Z", "reads", loop_seconds=[0.41, 0.45])
    monkeypatch.chdir(tmp_path)  # the report is written to docs/benchmarks.md from here
    cli._write_report(results, ["ingest", "reads"])
    report = (tmp_path / "docs" / "benchmarks.md").read_text()
    assert "| ingest | 20260101T000000Z | x86_64, 2 cores, Python 3.11 | abc1234 |" in report
    assert (
        "| reads | 20260201T000000Z | x86_64, 2 cores, Python 3.11, pure-Python loop 0.41-0.45 s"
        " | abc1234 |"
    ) in report
    assert calibration.published(cli._latest(results, ["ingest", "reads"])) == [0.41, 0.45]
