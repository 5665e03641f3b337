"""`evcs <command>`: one console script for every process and admin task."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from evcs import admin, workers
from shared import db, services
from shared.logging import setup_logging
from shared.process import run, serve
from shared.redis_client import RedisUnavailable
from shared.settings import Settings


def _settings(**overrides: Any) -> Settings:
    """The servers to run on: configured, or the embedded ones `evcs dev` is running."""
    return services.attach(Settings(**overrides))


def cmd_csms(args: argparse.Namespace) -> None:
    from csms.server import CsmsApp

    settings = _settings()
    if (args.workers or settings.workers) > 1:
        sys.exit(workers.run("csms", settings, args.workers or settings.workers))
    setup_logging(settings.log_level, settings.log_format, "csms")
    serve(CsmsApp(settings))


def cmd_gateway(args: argparse.Namespace) -> None:
    from gateway.app import GatewayService

    settings = _settings()
    if (args.workers or settings.workers) > 1:
        sys.exit(workers.run("gateway", settings, args.workers or settings.workers))
    setup_logging(settings.log_level, settings.log_format, "gateway")
    serve(GatewayService(settings))


def cmd_recorder(args: argparse.Namespace) -> None:
    from recorder.app import RecorderService

    settings = _settings()
    setup_logging(settings.log_level, settings.log_format, "recorder")
    serve(RecorderService(settings))


def cmd_migrate(args: argparse.Namespace) -> None:
    # the embedded PostgreSQL too, when it is not running: started for this and stopped after
    with services.servers(Settings()) as settings:
        setup_logging(settings.log_level, "console")
        assert settings.database_url
        applied = asyncio.run(db.migrate(settings.database_url))
    print(f"applied: {', '.join(applied)}" if applied else "database is up to date")


def cmd_sim(args: argparse.Namespace) -> None:
    from simulators import runner

    settings = Settings()
    setup_logging(settings.log_level, settings.log_format, "sim")
    codes: list[int] = []

    async def main() -> None:
        codes.append(await runner.main(args))

    run(main())
    sys.exit(codes[0] if codes else 1)


def cmd_bench(args: argparse.Namespace) -> None:
    from bench import cli as bench_cli

    sys.exit(bench_cli.main(args))


def cmd_soak(args: argparse.Namespace) -> None:
    from evcs.chaos import soak

    sys.exit(soak.main(args))


def cmd_dev(args: argparse.Namespace) -> None:
    from evcs import dev

    sys.exit(dev.main(args))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="evcs", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    dev = sub.add_parser("dev", help="run the whole system locally on the embedded servers")
    from evcs import dev as dev_command  # its options live beside it: --no-sim, --csms-nodes, ...

    dev_command.add_arguments(dev)
    dev.set_defaults(fn=cmd_dev)
    for role, fn, what in (
        ("csms", cmd_csms, "a csms node (OCPP WebSocket server)"),
        ("gateway", cmd_gateway, "a partner API gateway"),
    ):
        p = sub.add_parser(role, help=f"run {what}")
        p.add_argument(
            "--workers",
            type=int,
            default=0,
            help="processes sharing the port on this host (default: EVCS_WORKERS)",
        )
        p.set_defaults(fn=fn)
    sub.add_parser("recorder", help="run a recorder (stream -> PostgreSQL)").set_defaults(
        fn=cmd_recorder
    )
    sub.add_parser("migrate", help="apply database migrations").set_defaults(fn=cmd_migrate)

    from simulators import runner

    sim = sub.add_parser("sim", help="run simulated chargers")
    runner.add_arguments(sim)
    sim.set_defaults(fn=cmd_sim)

    from bench import cli as bench_cli

    bench = sub.add_parser("bench", help="run the benchmark scenarios and write docs/benchmarks.md")
    bench_cli.add_arguments(bench)
    bench.set_defaults(fn=cmd_bench)

    from evcs.chaos import soak

    soak_parser = sub.add_parser(
        "soak", help="run the system under load and inject faults at random (chaos soak)"
    )
    soak.add_arguments(soak_parser)
    soak_parser.set_defaults(fn=cmd_soak)

    admin.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.fn(args)
    except (RedisUnavailable, db.PostgresUnavailable, services.NotRunning) as exc:
        # no servers, a misconfigured URL, a cluster with unserved slots: one line, no traceback
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
