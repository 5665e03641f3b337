"""`evcs dev`: the whole system on one machine, for local work.

Starts (or uses) PostgreSQL and Redis, migrates, seeds a demo partner with a key and demo
chargers, then runs csms node(s), a recorder, gateway(s) and simulated chargers as child
processes until Ctrl-C or SIGTERM. With several csms nodes or gateways, each listens on an
internal port behind a load balancer (evcs.lb) on the public port, as in production.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from shared import apikeys, db, embedded, embedded_cluster, registry
from shared.redis_client import connect, connect_sync
from shared.redis_keys import F, Keys
from shared.settings import Settings

DEMO_PARTNER = "demo"
OTHER_PARTNER = "other"
DEMO_CHARGERS = (("DEMO-16-1", "ocpp1.6"), ("DEMO-201-1", "ocpp2.0.1"), ("DEMO-16-2", "ocpp1.6"))
OTHER_CHARGER = "OTHER-16-1"


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log: Path


def _read_env(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs}


async def _seed(settings: Settings, previous: dict[str, str]) -> str:
    """Demo partner, its API key (reused while still valid) and chargers; returns the key."""
    assert settings.database_url and settings.redis_url
    await db.migrate(settings.database_url)
    pool = await db.create_pool(settings.database_url, max_size=2)
    r = await connect(settings.redis_url, mode=settings.redis_mode)
    keys = Keys.of(settings)
    try:
        for pid, name in ((DEMO_PARTNER, "Demo partner"), (OTHER_PARTNER, "Another partner")):
            try:
                await registry.create_partner(pool, name, partner_id=pid, actor="evcs dev")
            except registry.Conflict:
                pass
        chargers = [(cp, proto, DEMO_PARTNER) for cp, proto in DEMO_CHARGERS]
        chargers.append((OTHER_CHARGER, "ocpp1.6", OTHER_PARTNER))
        for cp, proto, owner in chargers:
            try:
                await registry.register_charger(
                    pool, r, keys, cp, protocol=proto, partner_id=owner, actor="evcs dev"
                )
            except registry.Conflict:
                pass
        await registry.ensure_synced(pool, r, keys)  # a full sync only after a Redis loss
        key = previous.get("EVCS_DEMO_API_KEY", "")
        record = (
            await registry.find_key(pool, apikeys.digest(key)) if apikeys.well_formed(key) else None
        )
        if record is None or record.revoked or record.partner_id != DEMO_PARTNER:
            _, key = await registry.issue_api_key(pool, DEMO_PARTNER, actor="evcs dev")
        return key
    finally:
        await pool.close()
        await r.aclose()


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `evcs dev`."""
    parser.add_argument("--no-sim", action="store_true", help="start no simulated chargers")
    parser.add_argument(
        "--csms-nodes", type=_count, default=1, help="csms nodes behind a load balancer"
    )
    parser.add_argument(
        "--gateways", type=_count, default=1, help="gateways behind a load balancer"
    )
    parser.add_argument(
        "--redis-shards",
        type=_count,
        default=1,
        help="run the embedded Redis as a cluster of this many primaries (and as many stream"
        " shards, unless EVCS_STREAM_SHARDS says otherwise)",
    )
    parser.add_argument(
        "--redis-replicas",
        type=int,
        choices=(0, 1, 2),
        default=1,
        help="replicas per primary of the embedded cluster (default 1: a primary can fail over)",
    )


def _count(value: str) -> int:
    n = int(value)
    if not 1 <= n <= 16:
        raise argparse.ArgumentTypeError("expected 1 to 16")
    return n


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


@dataclass(frozen=True)
class Plan:
    """Which process listens where: the public ports, and the internal ones behind the LBs."""

    csms: list[int]  # one port per node; the public port itself when there is one node
    gateways: list[int]
    ops: list[int]  # metrics/health port of each csms node, then the recorder's


def plan(settings: Settings, csms_nodes: int, gateways: int) -> Plan:
    def ports(host: str, public: int, n: int) -> list[int]:
        return [public] if n == 1 else [_free_port(host) for _ in range(n)]

    return Plan(
        csms=ports(settings.csms_host, settings.csms_port, csms_nodes),
        gateways=ports(settings.gateway_host, settings.gateway_port, gateways),
        ops=[_free_port(settings.ops_host) for _ in range(csms_nodes + 1)],
    )


def spawn(
    name: str, argv: list[str], env: dict[str, str], logs: Path, module: str = "evcs"
) -> Child:
    """Start `python -m <module> <argv>` in its own session, its output in logs/<name>.log."""
    log = logs / f"{name}.log"
    handle = log.open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", module, *argv],
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    return Child(name, process, log)


def _listening(host: str, port: int) -> Callable[[], bool]:
    return lambda: not _port_free(host, port)


def _lb(
    name: str,
    host: str,
    public: int,
    ports: list[int],
    env: dict[str, str],
    logs: Path,
    health_path: str | None = None,
) -> Child:
    argv = ["--listen", f"{host}:{public}"]
    for port in ports:
        argv += ["--backend", f"{host}:{port}"]
    if health_path:
        argv += ["--health-path", health_path]
    return spawn(name, argv, env, logs, module="evcs.lb")


def _wait_until(
    check: Callable[[], bool], what: str, children: list[Child], timeout: float = 30
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in children:
            if child.process.poll() is not None:
                raise RuntimeError(f"{child.name} exited early; see {child.log}")
        if check():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not come up within {timeout:.0f}s")


def _online(redis_url: str, keys: Keys) -> bool:
    """Whether every demo charger has a connection open on a csms node."""
    r = connect_sync(redis_url)
    try:
        return all(r.hget(keys.charger(cp), F.ONLINE) == "1" for cp, _ in DEMO_CHARGERS)
    finally:
        r.close()


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _stop(children: list[Child]) -> None:
    for child in reversed(children):
        if child.process.poll() is None:
            child.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for child in reversed(children):
        try:
            child.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.process.kill()


def main(args: argparse.Namespace) -> int:
    base = Settings()
    data = base.data_dir
    logs = data / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env_file = data / "dev.env"
    previous = _read_env(env_file)
    for name, port in (("csms", base.csms_port), ("gateway", base.gateway_port)):
        if not _port_free(base.csms_host if name == "csms" else base.gateway_host, port):
            print(
                f"error: port {port} for the {name} is in use (set EVCS_{name.upper()}_PORT)",
                file=sys.stderr,
            )
            return 1

    if args.redis_shards > 1 and "EVCS_STREAM_SHARDS" not in os.environ:
        base = base.model_copy(update={"stream_shards": args.redis_shards})
    redis_folder = _redis_folder(data, args.redis_shards)
    try:
        database_url = base.database_url or embedded.start_postgres(data / "postgres")
        redis_url = base.redis_url or _start_redis(redis_folder, base, args)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    admin_token = (
        base.admin_token.get_secret_value()
        if base.admin_token
        else previous.get("EVCS_ADMIN_TOKEN") or secrets.token_urlsafe(24)
    )
    settings = base.with_urls(database_url, redis_url)
    children: list[Child] = []
    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        api_key = asyncio.run(_seed(settings, previous))
        env = {
            **os.environ,
            "EVCS_DATABASE_URL": database_url,
            "EVCS_REDIS_URL": redis_url,
            "EVCS_STREAM_SHARDS": str(settings.stream_shards),
            "EVCS_ADMIN_TOKEN": admin_token,
            "EVCS_CHARGER_AUTH": "false",
            "EVCS_BOOT_UNKNOWN": "Accepted",
        }
        csms_url = f"ws://{settings.csms_host}:{settings.csms_port}/ocpp"
        gateway_url = f"http://{settings.gateway_host}:{settings.gateway_port}/api/v1"
        layout = plan(settings, args.csms_nodes, args.gateways)
        ops_host = settings.ops_host
        children.append(
            spawn("recorder", ["recorder"], {**env, "EVCS_OPS_PORT": str(layout.ops[-1])}, logs)
        )
        for i, port in enumerate(layout.csms, 1):
            node_env = {
                **env,
                "EVCS_NODE_ID": f"dev-csms-{i}",
                "EVCS_CSMS_PORT": str(port),
                "EVCS_OPS_PORT": str(layout.ops[i - 1]),
            }
            children.append(spawn(_numbered("csms", i, len(layout.csms)), ["csms"], node_env, logs))
        for i, port in enumerate(layout.gateways, 1):
            gw_env = {**env, "EVCS_GATEWAY_PORT": str(port)}
            name = _numbered("gateway", i, len(layout.gateways))
            children.append(spawn(name, ["gateway"], gw_env, logs))
        for port in layout.csms:
            _wait_until(_listening(settings.csms_host, port), "csms", children)
        for port in layout.gateways:
            health = f"http://{settings.gateway_host}:{port}/api/v1/health"
            _wait_until(partial(_http_ok, health), "gateway", children)
        if len(layout.csms) > 1:
            children.append(
                _lb("lb-csms", settings.csms_host, settings.csms_port, layout.csms, env, logs)
            )
        if len(layout.gateways) > 1:
            children.append(
                _lb(
                    "lb-gateway",
                    settings.gateway_host,
                    settings.gateway_port,
                    layout.gateways,
                    env,
                    logs,
                    health_path="/api/v1/health/ready",
                )
            )
        _wait_until(_listening(settings.csms_host, settings.csms_port), "csms", children)
        _wait_until(partial(_http_ok, f"{gateway_url}/health"), "gateway", children)
        if not args.no_sim:
            for proto in ("ocpp1.6", "ocpp2.0.1"):
                ids = ",".join(cp for cp, p in DEMO_CHARGERS if p == proto)
                children.append(
                    spawn(
                        f"sim-{proto}",
                        ["sim", "--url", csms_url, "--protocol", proto, "--ids", ids],
                        env,
                        logs,
                    )
                )
            # The values are printed once the demo chargers can be commanded, so the README's
            # first curl does not meet a charger that is still connecting.
            try:
                _wait_until(
                    partial(_online, redis_url, Keys(settings.redis_prefix)),
                    "the simulated chargers",
                    children,
                )
            except RuntimeError as exc:
                print(f"warning: {exc}; see {logs}/sim-*.log", file=sys.stderr)
        values = {
            "EVCS_CSMS_URL": csms_url,
            "EVCS_GATEWAY_URL": gateway_url,
            "EVCS_DEMO_API_KEY": api_key,
            "EVCS_ADMIN_TOKEN": admin_token,
            "EVCS_DEMO_CHARGERS": ",".join(cp for cp, _ in DEMO_CHARGERS),
            "EVCS_OTHER_PARTNER_CHARGER": OTHER_CHARGER,
            "EVCS_DATABASE_URL": database_url,
            "EVCS_REDIS_URL": redis_url,
            "EVCS_STREAM_SHARDS": str(settings.stream_shards),
            "EVCS_METRICS_URLS": ",".join(f"http://{ops_host}:{p}/metrics" for p in layout.ops),
        }
        env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
        env_file.chmod(0o600)
        _banner(values, logs, env_file, args.no_sim)
        while not stopping:
            for child in children:
                if child.process.poll() is not None:
                    print(
                        f"{child.name} exited with {child.process.returncode}; see {child.log}",
                        file=sys.stderr,
                    )
                    stopping = True
            time.sleep(0.2)
        return 0
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        print("stopping…", flush=True)
        _stop(children)
        # Only the servers this command started; configured ones are not ours to stop.
        if not base.redis_url:
            if embedded_cluster.is_cluster(redis_folder):
                embedded_cluster.stop(redis_folder)
            else:
                embedded.stop_redis(redis_folder)
        if not base.database_url:
            embedded.stop_postgres(data / "postgres")
        print("stopped", flush=True)


def _redis_folder(data: Path, shards: int) -> Path:
    return data / "redis" if shards == 1 else data / "redis-cluster"


def _start_redis(folder: Path, settings: Settings, args: argparse.Namespace) -> str:
    """The embedded Redis: one server, or a cluster of --redis-shards primaries."""
    fsync = settings.embedded_redis_appendfsync
    if args.redis_shards == 1:
        return embedded.start_redis(folder, fsync)
    print(
        f"starting an embedded Redis Cluster: {args.redis_shards} primaries with "
        f"{args.redis_replicas} replica(s) each",
        flush=True,
    )
    return embedded_cluster.start(folder, args.redis_shards, args.redis_replicas, fsync)


def _numbered(role: str, i: int, n: int) -> str:
    return role if n == 1 else f"{role}-{i}"


def _banner(values: dict[str, str], logs: Path, env_file: Path, no_sim: bool) -> None:
    print(
        "\nevcs dev is running — PERMISSIVE MODE for local work: chargers connect without\n"
        "authentication and unknown chargers are accepted. Never run it like this in production.\n"
    )
    for key in (
        "EVCS_CSMS_URL",
        "EVCS_GATEWAY_URL",
        "EVCS_DEMO_API_KEY",
        "EVCS_ADMIN_TOKEN",
        "EVCS_DEMO_CHARGERS",
    ):
        print(f"  {key}={values[key]}")
    sims = "no simulated chargers (--no-sim)" if no_sim else "simulated chargers are running"
    print(f"\n  {sims}; logs in {logs}/, these values in {env_file}")
    print(
        '  try:  . .evcs/dev.env && curl -s -H "x-api-key: $EVCS_DEMO_API_KEY" '
        "$EVCS_GATEWAY_URL/chargers/DEMO-16-1/status\n  Ctrl-C stops everything.\n",
        flush=True,
    )
