"""Running a fleet of simulated chargers: `run_chargers` and the `evcs sim` options."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator

import pytest

from simulators import SimCharger16, SimCharger201
from simulators.runner import add_arguments, main, make_charger, run_chargers
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
    with pytest.raises(SystemExit):
        parse("--protocol", "ocpp9")


async def test_main_reports_how_many_booted(
    central: FakeCentral, capsys: pytest.CaptureFixture[str]
) -> None:
    args = parse("--url", central.url, "--chargers", "2", "--duration", "0.3", "--ramp", "100")

    assert await main(args) == 0
    assert "2/2 chargers booted" in capsys.readouterr().out
