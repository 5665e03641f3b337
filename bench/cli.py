"""`evcs bench [scenario] [--quick]`: run scenarios, print the table, write the report."""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import subprocess
import sys
import time
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bench import (
    calibration,
    charts,
    cluster,
    control,
    durability,
    duty,
    fleet,
    ingest,
    projection,
    reads,
    recording,
    registry,
)
from bench.context import RESULTS, Ctx, fresh_prefix
from bench.stats import Figure, table
from shared import db, services
from shared.redis_client import connect, delete_matching
from shared.settings import Settings

BENCH_DATABASE = "evcs_bench"

SCENARIOS = {
    "ingest": ingest.run,
    "capacity": fleet.capacity,
    "storm": fleet.storm,
    "reads": reads.run,
    "control": control.run,
    "recorder": recording.run,
    "registry": registry.run,
    "cluster": cluster.run,
    "durability": durability.run,
    "projection": projection.run,
    "fleet": duty.run,
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "scenario",
        nargs="*",
        choices=[*SCENARIOS, "all"],
        default="all",  # a string: argparse checks a list default against the choices whole
        help="one or more, run in order (ingest before control sets control's load); default all",
    )
    parser.add_argument("--quick", action="store_true", help="short runs: proves the suite works")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median, min-max)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/ alone")
    parser.add_argument(
        "--report", action="store_true", help="rewrite docs/benchmarks.md from bench/results only"
    )


def _versions() -> str:
    names = ("websockets", "aiohttp", "redis", "asyncpg", "orjson", "uvloop", "fastjsonschema")
    return ", ".join(f"{n} {metadata.version(n)}" for n in names)


def _commit() -> str:
    try:
        return subprocess.check_output(["git", "rev-parse", "--short", "HEAD"], text=True).strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(args: argparse.Namespace) -> int:
    if args.report:
        _write_report(RESULTS, SCENARIOS)
        return 0
    # the embedded servers when none are configured: the running ones, or started for the run
    with services.servers(Settings()) as resolved:
        assert resolved.database_url
        # Its own database and Redis key prefix: a million benchmark chargers must not end up
        # in the partner list of the system `make dev` runs on the same servers.
        database_url = asyncio.run(_bench_database(resolved.database_url))
        settings = resolved.model_copy(
            update={"redis_prefix": fresh_prefix(), "database_url": database_url}
        )
        asyncio.run(db.migrate(database_url))
        try:
            return _run(args, settings)
        finally:
            asyncio.run(_forget_keys(settings))


async def _bench_database(url: str) -> str:
    """A fresh database for this run; the previous run's stays until then, to be inspected."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{BENCH_DATABASE}"')
    finally:
        await conn.close()
    return urlunsplit(urlsplit(url)._replace(path=f"/{BENCH_DATABASE}"))


async def _forget_keys(settings: Settings) -> None:
    """Remove every Redis key this run made (its prefix), so Redis does not carry them on."""
    assert settings.redis_url
    r = await connect(settings.redis_url, mode=settings.redis_mode)
    try:
        await delete_matching(r, f"{settings.redis_prefix}*")
    finally:
        await r.aclose()


def _run(args: argparse.Namespace, settings: Settings) -> int:
    logs = settings.data_dir / "bench-logs"
    logs.mkdir(parents=True, exist_ok=True)
    ctx = Ctx(settings, logs, args.quick, runs=max(1, args.runs))
    asked = [args.scenario] if isinstance(args.scenario, str) else args.scenario
    chosen = list(SCENARIOS) if "all" in asked else list(dict.fromkeys(asked))
    started = time.time()
    repeat = 1 if args.quick else 3
    loop = [calibration.loop_seconds(repeat)]
    shown = calibration.published(_latest(RESULTS, chosen))
    print(calibration.compare(loop[0], shown), file=sys.stderr, flush=True)
    notes: dict[str, list[str]] = {}
    for name in chosen:
        print(f"running {name}…", file=sys.stderr, flush=True)
        before = len(ctx.notes)
        SCENARIOS[name](ctx)
        notes[name] = ctx.notes[before:]
    loop.append(calibration.loop_seconds(repeat))
    text = table(ctx.figures)
    print(text)
    for note in ctx.notes:
        print(f"note: {note}")
    print(f"{calibration.compare(loop[1], shown)}, at the end", file=sys.stderr)
    if args.no_write or args.quick:
        return 0
    out = RESULTS
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started))
    (out / f"{stamp}.json").write_text(
        json.dumps(
            {
                "commit": _commit(),
                "machine": machine(),
                "loop_seconds": [round(t, 3) for t in loop],
                "versions": _versions(),
                "started": stamp,
                "figures": [f.as_dict() for f in ctx.figures],
                "notes": ctx.notes,
                "notes_by_scenario": notes,
                "series": ctx.series,  # one sweep per scenario run, for bench/charts.py
            },
            indent=2,
        )
    )
    _write_report(out, SCENARIOS)
    return 0


# "1" when the kernel shares CPU time between sessions first: the embedded Redis and PostgreSQL
# run in sessions of their own, so latency figures read differently (bench/analysis.md,
# sixteenth pass)
AUTOGROUP = Path("/proc/sys/kernel/sched_autogroup_enabled")


def machine() -> str:
    """What the figures ran on, as the report's machine column shows it."""
    text = f"{platform.machine()}, {_cores()} cores, Python {platform.python_version()}"
    try:
        if AUTOGROUP.read_text().strip() == "1":
            text += ", autogroup on"
    except OSError:
        pass  # not Linux, or no autogroup in this kernel
    return text


def _cores() -> int:
    import os

    return os.cpu_count() or 0


def _latest(results: Path, scenarios: Iterable[str]) -> list[dict[str, Any]]:
    """For each scenario, the newest run that measured it (runs of one scenario refresh that
    scenario's part of the report and leave the others as they were)."""
    runs = [json.loads(p.read_text()) for p in sorted(results.glob("*.json"), reverse=True)]
    chosen: list[dict[str, Any]] = []
    for scenario in scenarios:
        run = next((r for r in runs if any(f["scenario"] == scenario for f in r["figures"])), None)
        if run is None:
            continue
        figures = [f for f in run["figures"] if f["scenario"] == scenario]
        chosen.append({**run, "scenario": scenario, "figures": figures})
    return chosen


def _write_report(results: Path, scenarios: Iterable[str]) -> None:
    parts = _latest(results, scenarios)
    doc = Path("docs/benchmarks.md")
    # the charts first, so the page shows exactly the ones there are
    drawn = doc.with_suffix("")
    if charts.available():
        shown = charts.write(results, drawn)
    else:
        print("charts not regenerated: no matplotlib (pip install -e '.[bench]')", file=sys.stderr)
        shown = [drawn / name for name in charts.CHARTS if (drawn / name).exists()]
    figures = [
        Figure(f["scenario"], f["metric"], f["unit"], f["runs"], f["target"])
        for part in parts
        for f in part["figures"]
    ]
    body = [
        "# Benchmarks",
        "",
        "Every figure is the median of the runs, with min - max. Reproduce with `make bench`",
        "(`evcs bench SCENARIO...` measures those scenarios and refreshes their rows here).",
        "A run times a fixed pure-Python loop (10 million additions) at its start and end, shown",
        "beside its machine: on a day the loop is slower, every figure is too. The machine says",
        '"autogroup on" when the kernel shared CPU time between sessions first, as Debian\'s',
        "does by default; latency under load then reads a little worse (sixteenth pass, below).",
        "",
    ]
    # relative to this page: docs/benchmarks/NAME.svg
    body += [
        line for p in shown for line in (f"![{charts.CHARTS[p.name]}](benchmarks/{p.name})", "")
    ]
    body += [
        "| scenario | measured | machine | commit |",
        "|---|---|---|---|",
    ]
    body += [
        f"| {p['scenario']} | {p['started']} | {p['machine']}"
        f"{calibration.describe(p.get('loop_seconds'))} | {p['commit']} |"
        for p in parts
    ]
    versions = sorted({p["versions"] for p in parts})
    body += ["", f"Versions: {'; '.join(versions)}.", "", table(figures), ""]
    for part in parts:
        by_scenario = part.get("notes_by_scenario")
        if by_scenario is None:  # a run from before notes were kept per scenario
            own = [n for n in part["notes"] if n.startswith(part["scenario"] + ":")]
        else:
            own = by_scenario.get(part["scenario"], [])
        body += [f"- {note}" for note in own]
    body += ["", (Path(__file__).parent / "analysis.md").read_text()]
    doc.parent.mkdir(exist_ok=True)
    doc.write_text("\n".join(body) + "\n")
