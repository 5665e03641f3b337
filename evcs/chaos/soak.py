"""`evcs soak --minutes N`: the whole system under load (chargers of both OCPP versions, a
partner sending commands) while faults are injected at random, one at a time, each followed
by its recovery; then whether anything acknowledged was lost or stored twice, whether every
command was answered, and how long each kind of fault took to recover from.

It starts its own embedded PostgreSQL and Redis in a temporary folder and stops everything
it started when it ends (also on Ctrl-C: the first ends the run early with its summary, a
second aborts). Exit code 0 only when nothing was lost or duplicated, every command was
answered and every fault recovered."""

from __future__ import annotations

import argparse
import asyncio
import logging
import random

from evcs.chaos import plan
from evcs.chaos.plan import Options


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--minutes", type=float, default=5.0, help="how long to inject faults")
    parser.add_argument("--seed", type=int, help="the random seed (default: a new one, printed)")
    parser.add_argument("--chargers", type=_positive, default=4, help="chargers per OCPP version")
    parser.add_argument(
        "--redis-shards",
        type=_positive,
        default=1,
        help="1: a single Redis, with csms <-> Redis link cuts; more: a Redis Cluster of that"
        " many primaries with a replica each, with primary failovers (no link cuts: a proxy"
        " cannot stand in front of a cluster, whose clients connect to the nodes it names)",
    )
    parser.add_argument(
        "--faults",
        type=lambda v: tuple(k.strip() for k in v.split(",") if k.strip()),
        default=(),
        help=f"only these kinds, comma-separated (of: {', '.join(plan.KINDS)})",
    )
    parser.add_argument(
        "--keep-logs", action="store_true", help="keep the processes' logs (always after a failure)"
    )


def _positive(value: str) -> int:
    n = int(value)
    if n < 1:
        raise argparse.ArgumentTypeError("expected 1 or more")
    return n


def main(args: argparse.Namespace) -> int:
    options = Options(
        args.minutes,
        args.seed if args.seed is not None else random.SystemRandom().randrange(1, 1_000_000),
        args.chargers,
        args.redis_shards,
        args.faults,
        args.keep_logs,
    )
    try:
        kinds = plan.kinds_for(options.shards > 1, options.faults)
    except ValueError as exc:
        print(f"error: {exc}")
        return 2
    from evcs.chaos.run import soak  # the system's parts: loaded for a run, not for --help

    # What the chargers and load balancers in this process say about the faults they meet is
    # expected; the summary counts it. Only errors are shown as they happen.
    logging.basicConfig(level=logging.ERROR, format="  %(name)s: %(message)s")

    try:
        return asyncio.run(soak(options, kinds))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("aborted")
        return 130
