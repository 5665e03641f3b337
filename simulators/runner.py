"""Run many simulated chargers against a central system; the `evcs sim` subcommand."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import random
import signal
from collections.abc import Sequence
from typing import Any

from simulators import CHARGER_CLASSES
from simulators.charger import BootRejected, ConnectionRejected, SimCharger

log = logging.getLogger(__name__)


def make_charger(charger_id: str, url: str, protocol: str, **kwargs: Any) -> SimCharger:
    """A simulated charger of the class that speaks `protocol` ('ocpp1.6' or 'ocpp2.0.1')."""
    try:
        cls = CHARGER_CLASSES[protocol]
    except KeyError:
        raise ValueError(f"unknown protocol {protocol!r}") from None
    return cls(charger_id, url, **kwargs)


async def run_chargers(
    url: str,
    count: int,
    protocol: str,
    prefix: str = "SIM",
    password: str | None = None,
    duration: float | None = None,
    *,
    ids: Sequence[str] | None = None,
    ramp_per_second: float = 50.0,
    stop: asyncio.Event | None = None,
    **charger_kwargs: Any,
) -> list[SimCharger]:
    """Run `count` chargers (or one per id in `ids`) until cancelled, `stop` is set, or
    `duration` seconds pass.

    Returns the chargers, already stopped.
    """
    names = list(ids) if ids is not None else [f"{prefix}-{n:05d}" for n in range(count)]
    chargers = [
        make_charger(name, url, protocol, password=password, **charger_kwargs) for name in names
    ]
    booted = 0

    async def launch(index: int, charger: SimCharger) -> None:
        nonlocal booted
        # Start-ups are spread over time (and jittered) so a large fleet does not connect at
        # once; start() keeps retrying the connection until it boots.
        await asyncio.sleep((index + random.random()) / ramp_per_second)
        try:
            await charger.start(timeout=None)
        except (BootRejected, ConnectionRejected) as exc:
            log.warning("%s gave up: %s", charger.charger_id, exc)
            return
        booted += 1
        if booted == len(chargers) or booted % 1000 == 0:
            log.info("%d/%d chargers booted", booted, len(chargers))

    log.info("starting %d %s chargers against %s", len(chargers), protocol, url)
    launches = [asyncio.create_task(launch(i, c)) for i, c in enumerate(chargers)]
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for((stop or asyncio.Event()).wait(), duration)
    finally:
        for task in launches:
            task.cancel()
        await asyncio.gather(*launches, return_exceptions=True)
        await asyncio.gather(*(c.stop() for c in chargers), return_exceptions=True)
        log.info("stopped %d chargers", len(chargers))
    return chargers


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `evcs sim`."""
    parser.add_argument(
        "--url",
        type=_ws_url,
        help="OCPP endpoint base (default: the csms of EVCS_CSMS_HOST and EVCS_CSMS_PORT)",
    )
    parser.add_argument(
        "--chargers", type=_positive(int), default=1, help="how many chargers to run"
    )
    parser.add_argument("--protocol", choices=sorted(CHARGER_CLASSES), default="ocpp1.6")
    parser.add_argument("--ids", type=_id_list, help="comma-separated charger ids")
    parser.add_argument("--prefix", default="SIM", help="charger ids are PREFIX-00000, ...")
    parser.add_argument(
        "--password", help="HTTP Basic password (default: $EVCS_SIM_PASSWORD, else none)"
    )
    parser.add_argument(
        "--duration", type=_positive(float), help="seconds to run (default: until ^C)"
    )
    parser.add_argument("--meter-interval", type=_positive(float), default=1.0, help="seconds")
    parser.add_argument("--power-w", type=float, default=11000.0, help="charging power")
    parser.add_argument(
        "--connectors", type=_positive(int), default=1, help="connectors/EVSEs each"
    )
    parser.add_argument(
        "--idle-report-interval", type=_positive(float), help="seconds (default: off)"
    )
    parser.add_argument(
        "--ramp", type=_positive(float), default=50.0, help="chargers started per second"
    )


def _ws_url(value: str) -> str:
    if not value.startswith(("ws://", "wss://")):
        raise argparse.ArgumentTypeError(f"expected a ws:// or wss:// URL, got {value!r}")
    return value


def _positive(kind: type[int] | type[float]) -> Any:
    def parse(value: str) -> int | float:
        try:
            number = kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {value!r}") from None
        if number <= 0:
            raise argparse.ArgumentTypeError(f"expected more than 0, got {value}")
        return number

    return parse


def default_url() -> str:
    """The csms this machine's settings name: what `evcs dev` and `evcs csms` listen on."""
    from shared.settings import Settings

    settings = Settings()
    host = "127.0.0.1" if settings.csms_host in ("0.0.0.0", "::", "") else settings.csms_host
    return f"ws://{host}:{settings.csms_port}/ocpp"


async def main(args: argparse.Namespace) -> int:
    """Run `evcs sim` with parsed arguments; returns the exit code."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    stop = asyncio.Event()  # ^C or SIGTERM: stop the chargers, then say how it went
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    chargers = await run_chargers(
        args.url or default_url(),
        args.chargers,
        args.protocol,
        prefix=args.prefix,
        password=args.password or os.environ.get("EVCS_SIM_PASSWORD"),
        duration=args.duration,
        ids=args.ids,
        ramp_per_second=args.ramp,
        stop=stop,
        meter_interval=args.meter_interval,
        power_w=args.power_w,
        connectors=args.connectors,
        idle_report_interval=args.idle_report_interval,
    )
    booted = sum(1 for c in chargers if c.boot_count > 0)
    print(f"{booted}/{len(chargers)} chargers booted")
    return 0 if booted == len(chargers) else 1


def _id_list(value: str) -> list[str]:
    ids = [part.strip() for part in value.split(",") if part.strip()]
    if not ids:
        raise argparse.ArgumentTypeError("expected comma-separated charger ids")
    return ids


if __name__ == "__main__":
    _parser = argparse.ArgumentParser(prog="python -m simulators.runner")
    add_arguments(_parser)
    try:
        raise SystemExit(asyncio.run(main(_parser.parse_args())))
    except KeyboardInterrupt:
        raise SystemExit(130) from None
