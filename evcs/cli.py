"""`evcs <command>`: one console script for every process and admin task."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import redis.asyncio as redis

from shared import db, registry, services
from shared.logging import setup_logging
from shared.process import run
from shared.redis_client import connect
from shared.redis_keys import Keys
from shared.settings import Settings


def _settings(**overrides: Any) -> Settings:
    return services.resolve(Settings(**overrides))


def cmd_csms(args: argparse.Namespace) -> None:
    from csms.server import run_node

    settings = _settings()
    setup_logging(settings.log_level, settings.log_format, "csms")
    run(run_node(settings))


def cmd_gateway(args: argparse.Namespace) -> None:
    from gateway.app import run_gateway

    settings = _settings()
    setup_logging(settings.log_level, settings.log_format, "gateway")
    run(run_gateway(settings))


def cmd_recorder(args: argparse.Namespace) -> None:
    from recorder.app import run_recorder

    settings = _settings()
    setup_logging(settings.log_level, settings.log_format, "recorder")
    run(run_recorder(settings))


def cmd_migrate(args: argparse.Namespace) -> None:
    settings = _settings()
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


def cmd_dev(args: argparse.Namespace) -> None:
    from evcs import dev

    sys.exit(dev.main(args))


@asynccontextmanager
async def _storage() -> AsyncIterator[tuple[asyncpg.Pool, redis.Redis, Keys]]:
    settings = _settings()
    assert settings.database_url and settings.redis_url
    pool = await db.create_pool(settings.database_url, max_size=2)
    r = connect(settings.redis_url)
    try:
        yield pool, r, Keys(settings.redis_prefix)
    finally:
        await pool.close()
        await r.aclose()


def _admin(
    fn: Callable[[argparse.Namespace], Coroutine[Any, Any, None]],
) -> Callable[[argparse.Namespace], None]:
    def runner(args: argparse.Namespace) -> None:
        try:
            asyncio.run(fn(args))
        except registry.RegistryError as exc:
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(1)

    return runner


async def admin_create_partner(args: argparse.Namespace) -> None:
    async with _storage() as (pool, _, _keys):
        partner = await registry.create_partner(
            pool, args.name, partner_id=args.id, charger_quota=args.quota, actor="cli"
        )
    print(partner.id)


async def admin_issue_key(args: argparse.Namespace) -> None:
    async with _storage() as (pool, _, _keys):
        key_id, key = await registry.issue_api_key(pool, args.partner, actor="cli")
    print(f"key id: {key_id}\napi key (shown once, store it now): {key}")


async def admin_register_charger(args: argparse.Namespace) -> None:
    async with _storage() as (pool, r, keys):
        password = await registry.register_charger(
            pool,
            r,
            keys,
            args.charger,
            protocol=args.protocol,
            partner_id=args.partner,
            password=args.password,
            generate=args.password is None and not args.no_password,
            actor="cli",
        )
    print(f"registered {args.charger}")
    if password:
        print(f"charge point password (shown once): {password}")


async def admin_assign_charger(args: argparse.Namespace) -> None:
    async with _storage() as (pool, r, keys):
        await registry.assign_charger(
            pool, r, keys, args.charger, args.partner or None, actor="cli"
        )
    print(f"{args.charger} -> {args.partner or 'unassigned'}")


async def admin_sync(args: argparse.Namespace) -> None:
    async with _storage() as (pool, r, keys):
        count = await registry.sync_chargers(pool, r, keys)
    print(f"projected {count} chargers into redis")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="evcs", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    dev = sub.add_parser("dev", help="run the whole system locally on the embedded servers")
    dev.add_argument("--no-sim", action="store_true", help="start no simulated chargers")
    dev.set_defaults(fn=cmd_dev)
    sub.add_parser("csms", help="run a csms node (OCPP WebSocket server)").set_defaults(fn=cmd_csms)
    sub.add_parser("gateway", help="run a partner API gateway").set_defaults(fn=cmd_gateway)
    sub.add_parser("recorder", help="run a recorder (stream -> PostgreSQL)").set_defaults(
        fn=cmd_recorder
    )
    sub.add_parser("migrate", help="apply database migrations").set_defaults(fn=cmd_migrate)

    from simulators import runner

    sim = sub.add_parser("sim", help="run simulated chargers")
    runner.add_arguments(sim)
    sim.set_defaults(fn=cmd_sim)

    admin = sub.add_parser("admin", help="partners, API keys and chargers")
    asub = admin.add_subparsers(dest="admin_command", required=True)
    p = asub.add_parser("create-partner", help="create a partner")
    p.add_argument("name")
    p.add_argument("--id", help="partner id (default: generated)")
    p.add_argument("--quota", type=int, help="most chargers it may hold")
    p.set_defaults(fn=_admin(admin_create_partner))
    p = asub.add_parser("issue-key", help="issue an API key for a partner")
    p.add_argument("partner")
    p.set_defaults(fn=_admin(admin_issue_key))
    p = asub.add_parser("register-charger", help="register a charger")
    p.add_argument("charger")
    p.add_argument("--protocol", choices=["ocpp1.6", "ocpp2.0.1"])
    p.add_argument("--partner", help="assign it to this partner")
    p.add_argument("--password", help="charge point password (default: generated)")
    p.add_argument("--no-password", action="store_true", help="register without a password")
    p.set_defaults(fn=_admin(admin_register_charger))
    p = asub.add_parser("assign-charger", help="assign a charger to a partner ('' to unassign)")
    p.add_argument("charger")
    p.add_argument("partner")
    p.set_defaults(fn=_admin(admin_assign_charger))
    p = asub.add_parser("sync", help="project the charger registry into Redis again")
    p.set_defaults(fn=_admin(admin_sync))
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.fn(args)
