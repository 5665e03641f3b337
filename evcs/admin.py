"""`evcs admin ...`: the operator's commands on partners, API keys, chargers, tokens and the
audit log, on the same registry functions the admin API uses."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any, NoReturn

import asyncpg
import orjson
import redis.asyncio as redis

from shared import db, registry, services
from shared.redis_client import connect
from shared.redis_keys import Keys
from shared.settings import Settings


def _settings() -> Settings:
    return services.attach(Settings())


@asynccontextmanager
async def _storage() -> AsyncIterator[tuple[asyncpg.Pool, redis.Redis, Keys]]:
    settings = _settings()
    assert settings.database_url and settings.redis_url
    pool = await db.create_pool(settings.database_url, max_size=2)
    r = await connect(settings.redis_url, mode=settings.redis_mode)
    try:
        yield pool, r, Keys.of(settings)
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
        except asyncpg.UndefinedTableError:
            print("error: the database has no schema yet; run `evcs migrate`", file=sys.stderr)
            sys.exit(2)

    return runner


def _actor() -> str:
    """Who runs the command, for the audit log."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _print_json(data: Any) -> None:
    print(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())


def _limit_arg(value: str) -> int | None:
    """A positive number, or `default` / `none` to clear the setting."""
    if value.lower() in ("default", "none"):
        return None
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return number


def _rate_defaults() -> tuple[int, int]:
    s = Settings()
    return s.rate_limit_minute, s.rate_limit_hour


async def admin_create_partner(args: argparse.Namespace) -> None:
    async with _storage() as (pool, _, _keys):
        partner = await registry.create_partner(
            pool,
            args.name,
            partner_id=args.id,
            charger_quota=args.quota,
            rate_limit_minute=args.rate_minute,
            rate_limit_hour=args.rate_hour,
            actor=_actor(),
        )
    print(partner.id)


async def admin_get_partner(args: argparse.Namespace) -> None:
    from gateway.admin_schemas import partner_json

    async with _storage() as (pool, _, _keys):
        partner = await registry.get_partner(pool, args.partner)
    _print_json(partner_json(partner, _rate_defaults()))


async def admin_list_partners(args: argparse.Namespace) -> None:
    from gateway.admin_schemas import partner_json

    async with _storage() as (pool, _, _keys):
        partners = await registry.list_partners(pool, status=args.status, limit=10_000)
    _print_json([partner_json(p, _rate_defaults()) for p in partners])


async def admin_update_partner(args: argparse.Namespace) -> None:
    from gateway.admin_schemas import partner_json

    changes: dict[str, Any] = {}
    for option, column in (
        ("name", "name"),
        ("quota", "charger_quota"),
        ("rate_minute", "rate_limit_minute"),
        ("rate_hour", "rate_limit_hour"),
    ):
        value = getattr(args, option)
        if value is not _UNSET:
            changes[column] = value
    async with _storage() as (pool, r, keys):
        partner = await registry.update_partner(
            pool, r, keys, args.partner, changes, actor=_actor()
        )
    _print_json(partner_json(partner, _rate_defaults()))


async def admin_suspend_partner(args: argparse.Namespace) -> None:
    async with _storage() as (pool, r, keys):
        partner = await registry.set_partner_status(
            pool, r, keys, args.partner, "suspended", actor=_actor()
        )
    print(f"{partner.id}: {partner.status}")


async def admin_reactivate_partner(args: argparse.Namespace) -> None:
    async with _storage() as (pool, r, keys):
        partner = await registry.set_partner_status(
            pool, r, keys, args.partner, "active", actor=_actor()
        )
    print(f"{partner.id}: {partner.status}")


async def admin_delete_partner(args: argparse.Namespace) -> None:
    if not args.yes:
        raise registry.RegistryError(
            "deleting revokes every key and unassigns every charger; add --yes to go ahead"
        )
    async with _storage() as (pool, r, keys):
        result = await registry.delete_partner(pool, r, keys, args.partner, actor=_actor())
    print(
        f"deleted {args.partner}: {result['keysRevoked']} keys revoked,"
        f" {result['chargersUnassigned']} chargers unassigned"
    )


async def admin_issue_key(args: argparse.Namespace) -> None:
    async with _storage() as (pool, _, _keys):
        key_id, key = await registry.issue_api_key(
            pool, args.partner, expires_at=args.expires, name=args.name, actor=_actor()
        )
    print(f"key id: {key_id}\napi key (shown once, store it now): {key}")


async def admin_list_keys(args: argparse.Namespace) -> None:
    from gateway.admin_schemas import key_json

    async with _storage() as (pool, _, _keys):
        found = await registry.list_keys(pool, partner_id=args.partner, prefix=args.prefix)
    _print_json([key_json(k) for k in found])


async def admin_rotate_key(args: argparse.Namespace) -> None:
    async with _storage() as (pool, r, keys):
        new_id, key, old = await registry.rotate_key(
            pool, r, keys, args.key_id, overlap=timedelta(seconds=args.overlap), actor=_actor()
        )
    print(f"key id: {new_id}\napi key (shown once, store it now): {key}")
    print(f"{old.id} keeps working until {old.expires_at.isoformat() if old.expires_at else '-'}")


async def admin_revoke_key(args: argparse.Namespace) -> None:
    async with _storage() as (pool, r, keys):
        info = await registry.revoke_key(pool, r, keys, args.key_id, actor=_actor())
    print(f"{info.id} revoked")


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
            actor=_actor(),
        )
    print(f"registered {args.charger}")
    if password:
        print(f"charge point password (shown once): {password}")


async def admin_assign_charger(args: argparse.Namespace) -> None:
    async with _storage() as (pool, r, keys):
        await registry.assign_charger(
            pool, r, keys, args.charger, args.partner or None, actor=_actor()
        )
    print(f"{args.charger} -> {args.partner or 'unassigned'}")


async def admin_unassign_charger(args: argparse.Namespace) -> None:
    async with _storage() as (pool, r, keys):
        await registry.assign_charger(pool, r, keys, args.charger, None, actor=_actor())
    print(f"{args.charger} -> unassigned")


async def admin_decommission_charger(args: argparse.Namespace) -> None:
    async with _storage() as (pool, r, keys):
        await registry.decommission_charger(pool, r, keys, args.charger, actor=_actor())
    print(f"{args.charger} decommissioned (REMOVED)")


async def _with_live(
    r: redis.Redis, keys: Keys, records: list[registry.ChargerRecord]
) -> list[Any]:
    """The records as the admin API shows them: with online, status, node and last seen."""
    from gateway.fleet import admin_chargers
    from gateway.nodes import AliveNodes

    nodes = AliveNodes(r, keys)
    await nodes.refresh()
    return await admin_chargers(r, keys, records, nodes.alive, Settings().offline_grace)


async def admin_list_chargers(args: argparse.Namespace) -> None:
    async with _storage() as (pool, r, keys):
        found = await registry.list_chargers(
            pool, partner_id=args.partner, include_removed=args.all, limit=100_000
        )
        chargers = await _with_live(r, keys, found)
    _print_json(chargers)


async def admin_get_charger(args: argparse.Namespace) -> None:
    from gateway.charger_reports import charger_reports

    async with _storage() as (pool, r, keys):
        found = await registry.get_charger(pool, args.charger)
        (charger,) = await _with_live(r, keys, [found])
        reports = await charger_reports(pool, found.id)
    _print_json({**charger, "reports": reports})


async def admin_set_charger_password(args: argparse.Namespace) -> None:
    async with _storage() as (pool, r, keys):
        _, password = await registry.set_charger_password(
            pool,
            r,
            keys,
            args.charger,
            password=args.password,
            generate=args.password is None and not args.no_password,
            actor=_actor(),
        )
    if password:
        print(f"{args.charger}: new charge point password (shown once): {password}")
    else:
        print(f"{args.charger}: password {'set' if args.password else 'removed'}")
    print("the charger's next connection must use it; an open connection stays open")


@asynccontextmanager
async def _dispatcher(pool: asyncpg.Pool, r: redis.Redis, keys: Keys) -> AsyncIterator[Any]:
    """A command dispatcher on the gateway's bus, for the length of one CLI command."""
    from gateway.commands import CommandBus
    from gateway.dispatch import Dispatcher
    from gateway.nodes import AliveNodes

    nodes = AliveNodes(r, keys)
    await nodes.refresh()
    bus = CommandBus(r, keys, nodes)
    await bus.start()
    try:
        yield Dispatcher(_settings(), r, keys, bus, pool)
    finally:
        await bus.stop()


async def _known_protocol(pool: asyncpg.Pool, r: redis.Redis, keys: Keys, charger: str) -> str:
    from gateway.fleet import charger_protocol

    protocol, _ = await charger_protocol(pool, r, keys, charger)
    if protocol is None:
        _fail("the charger has never connected: its OCPP version is unknown")
    return protocol


def _print_outcome(order: Any, settled: Any, **shown: Any) -> None:
    """The command's answer as JSON; exit 1 unless the charger answered."""
    from gateway.commands import failure_message, http_status

    reply = settled.reply
    _print_json(
        {
            "commandId": order.command_id,
            "chargerId": order.charger_id,
            **shown,
            "outcome": reply.outcome.value,
            "chargerResponse": reply.response,
            "message": reply.message,
        }
    )
    if http_status(settled) != 200:
        print(f"error: {failure_message(settled)}", file=sys.stderr)
        sys.exit(1)


async def admin_send(args: argparse.Namespace) -> None:
    """Send one OCPP message through the command bus, as the admin API does, and wait."""
    from gateway.command_log import Order
    from shared.ocpp_schemas import csms_message_problem

    try:
        payload = orjson.loads(args.params)
    except orjson.JSONDecodeError as exc:
        _fail(f"params are not JSON: {exc}")
    if not isinstance(payload, dict):
        _fail("params must be a JSON object")
    async with _storage() as (pool, r, keys):
        protocol = await _known_protocol(pool, r, keys, args.charger)
        problem = csms_message_problem(protocol, args.action, payload)
        if problem is not None:
            _fail(problem)
        async with _dispatcher(pool, r, keys) as dispatch:
            order = Order.ocpp(args.charger, args.action, payload)
            settled = await dispatch.operator_sync(order, _actor())
    _print_outcome(order, settled, action=args.action)


async def admin_local_list(args: argparse.Namespace) -> None:
    """Send a charger its local authorization list from the token store, as the API does."""
    from gateway.local_lists import send_local_list

    async with _storage() as (pool, r, keys):
        charger = await registry.get_charger(pool, args.charger)
        protocol = await _known_protocol(pool, r, keys, args.charger)
        async with _dispatcher(pool, r, keys) as dispatch:
            sent = await send_local_list(
                pool, dispatch, charger, protocol, "Full" if args.full else None, _actor()
            )
    update = sent.update
    _print_outcome(
        sent.order,
        sent.settled,
        versionNumber=update.version,
        updateType=update.update_type,
        changed=[e.id for e in update.changed],
        removed=update.removed,
    )


def _fail(message: str) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(1)


async def admin_audit(args: argparse.Namespace) -> None:
    from gateway.admin_schemas import audit_json

    async with _storage() as (pool, _, _keys):
        entries = await registry.audit_entries(
            pool, actor=args.actor, action=args.action, target=args.target, limit=args.limit
        )
    _print_json([audit_json(e) for e in entries])


async def admin_sync(args: argparse.Namespace) -> None:
    async with _storage() as (pool, r, keys):
        count = await registry.sync_chargers(pool, r, keys)
        tokens = await registry.sync_tokens(pool, r, keys)
    print(f"projected {count} chargers and {tokens} tokens into redis")


def _token_changes(args: argparse.Namespace) -> dict[str, Any]:
    """The options given, by registry column ("none" clears an expiry, group or partner)."""
    changes: dict[str, Any] = {}
    for option, column in (
        ("status", "status"),
        ("type", "type"),
        ("expires", "expires_at"),
        ("group", "group_id"),
        ("partner", "partner_id"),
    ):
        value = getattr(args, option)
        if value is not _UNSET:
            changes[column] = None if value == "none" else value
    return changes


async def admin_token_add(args: argparse.Namespace) -> None:
    from gateway.token_schemas import token_json

    async with _storage() as (pool, r, keys):
        token = await registry.create_token(
            pool,
            r,
            keys,
            args.token,
            status=args.status,
            type=args.type,
            expires_at=args.expires,
            group_id=args.group,
            partner_id=args.partner,
            actor=_actor(),
        )
    _print_json(token_json(token))


async def admin_token_list(args: argparse.Namespace) -> None:
    from gateway.token_schemas import token_json

    async with _storage() as (pool, _, _keys):
        found = await registry.list_tokens(
            pool, partner_id=args.partner, status=args.status, group_id=args.group, limit=100_000
        )
    _print_json([token_json(t) for t in found])


async def admin_token_get(args: argparse.Namespace) -> None:
    from gateway.token_schemas import token_json

    async with _storage() as (pool, _, _keys):
        token = await registry.get_token(pool, args.token)
    _print_json(token_json(token))


async def admin_token_update(args: argparse.Namespace) -> None:
    from gateway.token_schemas import token_json

    async with _storage() as (pool, r, keys):
        token = await registry.update_token(
            pool, r, keys, args.token, _token_changes(args), actor=_actor()
        )
    _print_json(token_json(token))


async def admin_token_delete(args: argparse.Namespace) -> None:
    async with _storage() as (pool, r, keys):
        token = await registry.delete_token(pool, r, keys, args.token, actor=_actor())
    print(f"{token.id} deleted: unknown from now on")


_UNSET: Any = object()


def _expiry(value: str) -> datetime:
    ts = datetime.fromisoformat(value)
    if ts.tzinfo is None:
        raise argparse.ArgumentTypeError("give a time zone, e.g. 2027-01-01T00:00:00Z")
    return ts


def _expiry_or_none(value: str) -> datetime | str:
    return "none" if value.lower() == "none" else _expiry(value)


def _add_token_commands(asub: Any, wrap: Callable[..., Any]) -> None:
    """`evcs admin token add|list|get|update|delete`."""
    token = asub.add_parser("token", help="RFID idTags / idTokens that may charge")
    tsub = token.add_subparsers(dest="token_command", required=True)

    def command(
        name: str, fn: Callable[[argparse.Namespace], Coroutine[Any, Any, None]], help: str
    ) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = tsub.add_parser(name, help=help)
        p.set_defaults(fn=wrap(fn))
        return p

    statuses = list(registry.TOKEN_STATUSES)
    types = list(registry.TOKEN_TYPES)
    p = command("add", admin_token_add, "register a token (JSON)")
    p.add_argument("token", help="the idTag / idToken")
    p.add_argument("--status", choices=statuses, default="Accepted")
    p.add_argument("--type", choices=types, help="IdTokenEnumType (default ISO14443)")
    p.add_argument("--expires", type=_expiry, help="expiry, ISO 8601 with time zone")
    p.add_argument("--group", help="group id (parentIdTag / groupIdToken)")
    p.add_argument("--partner", help="the partner whose driver holds it")
    p = command("list", admin_token_list, "tokens (JSON)")
    p.add_argument("--partner", help="only this partner's")
    p.add_argument("--status", choices=statuses)
    p.add_argument("--group", help="only this group's")
    p = command("get", admin_token_get, "a token (JSON)")
    p.add_argument("token")
    p = command("update", admin_token_update, "change a token (JSON); none clears a value")
    p.add_argument("token")
    p.add_argument("--status", choices=statuses, default=_UNSET)
    p.add_argument("--type", choices=types, default=_UNSET)
    p.add_argument("--expires", type=_expiry_or_none, default=_UNSET, help="ISO 8601, or none")
    p.add_argument("--group", default=_UNSET, help="a group id, or none")
    p.add_argument("--partner", default=_UNSET, help="a partner id, or none")
    p = command("delete", admin_token_delete, "delete a token: unknown from now on")
    p.add_argument("token")


def add_commands(sub: Any) -> None:
    """The `evcs admin` subcommands."""
    """`evcs admin …`: what the admin API does, straight on the database and Redis."""
    admin = sub.add_parser("admin", help="partners, API keys, chargers, tokens and the audit log")
    asub = admin.add_subparsers(dest="admin_command", required=True)

    def command(
        name: str, fn: Callable[[argparse.Namespace], Coroutine[Any, Any, None]], help: str
    ) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = asub.add_parser(name, help=help)
        p.set_defaults(fn=_admin(fn))
        return p

    p = command("create-partner", admin_create_partner, "create a partner")
    p.add_argument("name")
    p.add_argument("--id", help="partner id (default: generated)")
    p.add_argument("--quota", type=int, help="most chargers it may hold (default: no cap)")
    p.add_argument("--rate-minute", type=int, help="requests per minute (default: gateway's)")
    p.add_argument("--rate-hour", type=int, help="requests per hour (default: gateway's)")
    p = command("get-partner", admin_get_partner, "show a partner (JSON)")
    p.add_argument("partner")
    p = command("list-partners", admin_list_partners, "list partners (JSON)")
    p.add_argument("--status", choices=registry.PARTNER_STATUSES)
    p = command("update-partner", admin_update_partner, "change name, quota or rate limits")
    p.add_argument("partner")
    p.add_argument("--name", default=_UNSET)
    p.add_argument("--quota", type=_limit_arg, default=_UNSET, help="a number, or none")
    p.add_argument("--rate-minute", type=_limit_arg, default=_UNSET, help="a number, or default")
    p.add_argument("--rate-hour", type=_limit_arg, default=_UNSET, help="a number, or default")
    p = command("suspend-partner", admin_suspend_partner, "suspend a partner (its keys get 403)")
    p.add_argument("partner")
    p = command("reactivate-partner", admin_reactivate_partner, "reactivate a partner")
    p.add_argument("partner")
    p = command("delete-partner", admin_delete_partner, "delete a partner")
    p.add_argument("partner")
    p.add_argument("--yes", action="store_true", help="yes: revoke its keys, unassign chargers")

    p = command("issue-key", admin_issue_key, "issue an API key for a partner (shown once)")
    p.add_argument("partner")
    p.add_argument("--name", help="a label")
    p.add_argument("--expires", type=_expiry, help="expiry, ISO 8601 with time zone")
    p = command("list-keys", admin_list_keys, "a partner's keys, or keys by prefix (JSON)")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("partner", nargs="?")
    who.add_argument("--prefix", help="a key's first characters, or a whole leaked key")
    p = command("rotate-key", admin_rotate_key, "new key; the old one works for --overlap s")
    p.add_argument("key_id")
    p.add_argument("--overlap", type=int, default=86_400, help="seconds (default: a day)")
    p = command("revoke-key", admin_revoke_key, "revoke an API key at once")
    p.add_argument("key_id")

    p = command("register-charger", admin_register_charger, "register a charger")
    p.add_argument("charger")
    p.add_argument("--protocol", choices=list(registry.PROTOCOLS))
    p.add_argument("--partner", help="assign it to this partner")
    p.add_argument("--password", help="charge point password (default: generated)")
    p.add_argument("--no-password", action="store_true", help="register without a password")
    p = command(
        "assign-charger", admin_assign_charger, "assign a charger to a partner ('' to unassign)"
    )
    p.add_argument("charger")
    p.add_argument("partner")
    p = command("unassign-charger", admin_unassign_charger, "unassign a charger")
    p.add_argument("charger")
    p = command(
        "decommission-charger", admin_decommission_charger, "decommission a charger (REMOVED)"
    )
    p.add_argument("charger")
    p = command("list-chargers", admin_list_chargers, "registered chargers, online or not (JSON)")
    p.add_argument("--partner", help="only this partner's")
    p.add_argument("--all", action="store_true", help="decommissioned ones too")
    p = command("get-charger", admin_get_charger, "a charger: registry and live state (JSON)")
    p.add_argument("charger")
    p = command(
        "set-charger-password",
        admin_set_charger_password,
        "give a charger a new password (generated unless given), or none",
    )
    p.add_argument("charger")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--password", help="the new password, 16-40 characters")
    how.add_argument("--no-password", action="store_true", help="remove its password")

    p = command(
        "send",
        admin_send,
        "send any OCPP message to a charger and print its answer (JSON), e.g."
        ' send CP-1 Reset \'{"type": "Soft"}\'',
    )
    p.add_argument("charger")
    p.add_argument("action", help="the OCPP action, e.g. Reset, UpdateFirmware, SendLocalList")
    p.add_argument("params", nargs="?", default="{}", help="the OCPP payload as JSON")
    p = command(
        "local-list",
        admin_local_list,
        "send a charger its local authorization list from the token store (JSON)",
    )
    p.add_argument("charger")
    p.add_argument("--full", action="store_true", help="a full list (default: what changed)")

    p = command("audit", admin_audit, "the audit log, newest first (JSON)")
    p.add_argument("--actor")
    p.add_argument("--action", help="an action or its prefix, e.g. api_key.")
    p.add_argument("--target")
    p.add_argument("--limit", type=int, default=50)
    command("sync", admin_sync, "project the charger and token registry into Redis again")
    _add_token_commands(asub, _admin)
