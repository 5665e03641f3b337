"""Running a fleet of simulated chargers: `run_chargers` and the `evcs sim` options."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from simulators import SimCharger16, SimCharger201
from simulators.runner import add_arguments, default_url, main, make_charger, run_chargers
from tests.simulators.fake_central import FakeCentral, eventually


@pytest.fixture
async def central() -> AsyncIterator[FakeCentral]:
    async with FakeCentral() as server:
        yield server
    assert server.invalid == []


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_make_charger_picks_the_class_for_the_protocol() -> None:
    assert isinstance(make_charger("A", "ws://x/ocpp", "ocpp1.6"), SimCharger16)
    assert isinstance(make_charger("A", "ws://x/ocpp", "ocpp2.0.1"), SimCharger201)
    with pytest.raises(ValueError):
        make_charger("A", "ws://x/ocpp", "ocpp9")


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1"])
async def test_runs_numbered_chargers_for_the_duration_then_stops_them(
    central: FakeCentral, protocol: str
) -> None:
    chargers = await run_chargers(
        central.url, 3, protocol, duration=0.5, meter_interval=0.05, ramp_per_second=100
    )

    assert sorted(s.charger_id for s in central.sessions) == ["SIM-00000", "SIM-00001", "SIM-00002"]
    assert all(s.protocol == protocol for s in central.sessions)
    assert all(c.boot_count == 1 and not c.connected for c in chargers)
    await eventually(lambda: all(s.ws.close_code is not None for s in central.sessions))


async def test_runs_explicit_ids_until_cancelled(central: FakeCentral) -> None:
    task = asyncio.create_task(
        run_chargers(central.url, 0, "ocpp1.6", ids=["A", "B"], password="pw", ramp_per_second=100)
    )
    await eventually(lambda: len(central.sessions) == 2 and all(s.calls for s in central.sessions))

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert {s.charger_id for s in central.sessions} == {"A", "B"}
    assert all(s.authorization for s in central.sessions)
    await eventually(lambda: all(s.ws.close_code is not None for s in central.sessions))


def test_cli_options() -> None:
    args = parse(
        "--url", "ws://h:1/ocpp", "--chargers", "5", "--protocol", "ocpp2.0.1",
        "--ids", "A, B", "--prefix", "X", "--password", "pw", "--duration", "2",
        "--meter-interval", "0.5",
    )  # fmt: skip

    assert (args.url, args.chargers, args.protocol, args.ids) == (
        "ws://h:1/ocpp",
        5,
        "ocpp2.0.1",
        ["A", "B"],
    )
    assert (args.prefix, args.password, args.duration, args.meter_interval) == ("X", "pw", 2, 0.5)
    defaults = parse()
    assert (defaults.protocol, defaults.prefix, defaults.duration) == ("ocpp1.6", "SIM", None)


@pytest.mark.parametrize(
    "argv",
    [
        ("--url", "notaurl"),
        ("--url", "http://127.0.0.1:9000/ocpp"),
        ("--ramp", "0"),
        ("--connectors", "0"),
        ("--chargers", "-1"),
        ("--meter-interval", "soon"),
    ],
)
def test_bad_options_are_refused_before_anything_runs(argv: tuple[str, ...]) -> None:
    with pytest.raises(SystemExit) as refused:
        parse(*argv)
    assert refused.value.code == 2


def test_the_default_csms_is_the_one_the_settings_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """`evcs dev` tells you to set EVCS_CSMS_PORT when 9000 is taken: the sim follows it."""
    monkeypatch.setenv("EVCS_CSMS_PORT", "9123")
    assert default_url() == "ws://127.0.0.1:9123/ocpp"


def test_ctrl_c_stops_the_chargers_and_reports(tmp_path: Path) -> None:
    """The documented way to end `evcs sim`: a summary and an exit code, no traceback."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVCS_")}
    sim = subprocess.Popen(
        [sys.executable, "-m", "evcs", "sim", "--url", "ws://127.0.0.1:1/ocpp"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert sim.stderr is not None
        for line in sim.stderr:  # started once it says so
            if "starting 1" in line:
                break
        sim.send_signal(signal.SIGINT)
        out, err = sim.communicate(timeout=30)
    finally:
        sim.kill()
    assert sim.returncode == 1  # none of the chargers booted
    assert "0/1 chargers booted" in out and "Traceback" not in err
    with pytest.raises(SystemExit):
        parse("--protocol", "ocpp9")


async def test_main_reports_how_many_booted(
    central: FakeCentral, capsys: pytest.CaptureFixture[str]
) -> None:
    args = parse("--url", central.url, "--chargers", "2", "--duration", "0.3", "--ramp", "100")

    assert await main(args) == 0
    assert "2/2 chargers booted" in capsys.readouterr().out
