"""`evcs dev`: the whole system on one machine, for local work.

Starts (or uses) PostgreSQL and Redis, migrates, seeds a demo partner with a key and demo
chargers (evcs/demo.py), then runs csms node(s), a recorder, gateway(s) and simulated chargers
as child processes until Ctrl-C or SIGTERM. With several csms nodes or gateways, each listens
on an internal port behind a load balancer (evcs.lb) on the public port, as in production.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from evcs import children, demo
from shared import embedded, embedded_cluster
from shared.ports import free_port, port_free
from shared.redis_keys import Keys
from shared.settings import Settings


@dataclass
class Run:
    """One `evcs dev`: its settings, where it writes, and what it started."""

    args: argparse.Namespace
    base: Settings  # as configured: servers it names are not ours to stop
    settings: Settings  # with the servers it runs on
    data: Path
    admin_token: str
    children: list[children.Child] = field(default_factory=list)
    stopping: bool = False

    @property
    def logs(self) -> Path:
        return self.data / "logs"

    @property
    def env_file(self) -> Path:
        return self.data / "dev.env"

    @property
    def redis_folder(self) -> Path:
        return _redis_folder(self.data, self.args.redis_shards)

    @property
    def csms_url(self) -> str:
        return f"ws://{self.settings.csms_host}:{self.settings.csms_port}/ocpp"

    @property
    def gateway_url(self) -> str:
        return f"http://{self.settings.gateway_host}:{self.settings.gateway_port}/api/v1"

    @property
    def console_url(self) -> str:
        """The operator console (sign in with EVCS_ADMIN_TOKEN)."""
        return f"http://{self.settings.gateway_host}:{self.settings.gateway_port}/console"

    def env(self) -> dict[str, str]:
        """What every child process is started with: the same servers, permissive charger
        settings for local work."""
        s = self.settings
        return {
            **os.environ,
            "EVCS_DATABASE_URL": str(s.database_url),
            "EVCS_REDIS_URL": str(s.redis_url),
            "EVCS_STREAM_SHARDS": str(s.stream_shards),
            "EVCS_ADMIN_TOKEN": self.admin_token,
            "EVCS_CHARGER_AUTH": "false",
            "EVCS_BOOT_UNKNOWN": "Accepted",
            "EVCS_AUTHORIZE_UNKNOWN": authorize_unknown(os.environ),
        }


def authorize_unknown(environ: Mapping[str, str]) -> str:
    """`evcs dev` accepts tokens nobody registered (any RFID card charges), unless
    EVCS_AUTHORIZE_UNKNOWN says otherwise; `evcs csms` on its own answers them Invalid."""
    return environ.get("EVCS_AUTHORIZE_UNKNOWN") or "Accepted"


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


@dataclass(frozen=True)
class Plan:
    """Which process listens where: the public ports, and the internal ones behind the LBs."""

    csms: list[int]  # one port per node; the public port itself when there is one node
    gateways: list[int]
    ops: list[int]  # metrics/health port of each csms node, the recorder, then each gateway


def plan(settings: Settings, csms_nodes: int, gateways: int) -> Plan:
    def ports(host: str, public: int, n: int) -> list[int]:
        return [public] if n == 1 else [free_port(host) for _ in range(n)]

    return Plan(
        csms=ports(settings.csms_host, settings.csms_port, csms_nodes),
        gateways=ports(settings.gateway_host, settings.gateway_port, gateways),
        ops=[free_port(settings.ops_host) for _ in range(csms_nodes + 1 + gateways)],
    )


def main(args: argparse.Namespace) -> int:
    base = Settings()
    if args.redis_shards > 1 and "EVCS_STREAM_SHARDS" not in os.environ:
        base = base.model_copy(update={"stream_shards": args.redis_shards})
    busy = _busy_port(base)
    if busy:
        print(f"error: {busy}", file=sys.stderr)
        return 1
    data = base.data_dir
    (data / "logs").mkdir(parents=True, exist_ok=True)
    previous = demo.read_env(data / "dev.env")
    token = base.admin_token.get_secret_value() if base.admin_token else None
    run = Run(
        args,
        base,
        base,  # until the servers it runs on are up
        data,
        token or previous.get("EVCS_ADMIN_TOKEN") or secrets.token_urlsafe(24),
    )

    def on_signal(signum: int, frame: object) -> None:
        run.stopping = True

    # From before anything starts, and a closed terminal too: whatever was started is
    # stopped below, however the command ends.
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, on_signal)
    try:
        settings = run.settings = _start_servers(base, data, args)
        if run.stopping:
            return 0
        api_key = asyncio.run(demo.seed(settings, previous))
        layout = plan(settings, args.csms_nodes, args.gateways)
        _spawn_system(run, layout)
        if not args.no_sim:
            _spawn_chargers(run)
        values = _values(run, layout, api_key)
        run.env_file.write_text(demo.env_lines(values))
        run.env_file.chmod(0o600)
        _banner(values, run.logs, run.env_file, args.no_sim)
        _wait_for_stop(run)
        return 0
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        print("stopping…", flush=True)
        children.stop_all(run.children)
        _stop_servers(run)
        print("stopped", flush=True)


def _busy_port(base: Settings) -> str | None:
    for name, host, port in (
        ("csms", base.csms_host, base.csms_port),
        ("gateway", base.gateway_host, base.gateway_port),
    ):
        if not port_free(host, port):
            return f"port {port} for the {name} is in use (set EVCS_{name.upper()}_PORT)"
    return None


def _start_servers(base: Settings, data: Path, args: argparse.Namespace) -> Settings:
    """The configured PostgreSQL and Redis, or the embedded ones started under `data`."""
    database_url = base.database_url or embedded.start_postgres(data / "postgres")
    redis_url = base.redis_url or _start_redis(_redis_folder(data, args.redis_shards), base, args)
    return base.with_urls(database_url, redis_url)


def _stop_servers(run: Run) -> None:
    """Only the servers this command started; configured ones are not ours to stop."""
    if not run.base.redis_url:
        if embedded_cluster.is_cluster(run.redis_folder):
            embedded_cluster.stop(run.redis_folder)
        else:
            embedded.stop_redis(run.redis_folder)
    if not run.base.database_url:
        embedded.stop_postgres(run.data / "postgres")


def _spawn_system(run: Run, layout: Plan) -> None:
    """Recorder, csms node(s), gateway(s) and their load balancers, each waited for."""
    s, env, logs, started = run.settings, run.env(), run.logs, run.children
    recorder_ops = layout.ops[len(layout.csms)]
    ops = {**env, "EVCS_OPS_PORT": str(recorder_ops)}
    started.append(children.spawn("recorder", ["recorder"], ops, logs))
    for i, port in enumerate(layout.csms, 1):
        node_env = {
            **env,
            "EVCS_NODE_ID": f"dev-csms-{i}",
            "EVCS_CSMS_PORT": str(port),
            "EVCS_OPS_PORT": str(layout.ops[i - 1]),
        }
        started.append(
            children.spawn(_numbered("csms", i, len(layout.csms)), ["csms"], node_env, logs)
        )
    for i, port in enumerate(layout.gateways, 1):
        gw_ops = layout.ops[len(layout.csms) + i]
        gw_env = {**env, "EVCS_GATEWAY_PORT": str(port), "EVCS_OPS_PORT": str(gw_ops)}
        started.append(
            children.spawn(_numbered("gateway", i, len(layout.gateways)), ["gateway"], gw_env, logs)
        )
    for port in layout.csms:
        children.wait_until(children.listening(s.csms_host, port), "csms", started)
    for port in layout.gateways:
        health = f"http://{s.gateway_host}:{port}/api/v1/health"
        children.wait_until(partial(children.http_ok, health), "gateway", started)
    if len(layout.csms) > 1:
        started.append(children.lb("lb-csms", s.csms_host, s.csms_port, layout.csms, env, logs))
    if len(layout.gateways) > 1:
        ready = "/api/v1/health/ready"
        lb = children.lb(
            "lb-gateway", s.gateway_host, s.gateway_port, layout.gateways, env, logs, ready
        )
        started.append(lb)
    children.wait_until(children.listening(s.csms_host, s.csms_port), "csms", started)
    children.wait_until(partial(children.http_ok, f"{run.gateway_url}/health"), "gateway", started)


def _spawn_chargers(run: Run) -> None:
    """The simulated demo chargers, waited for: the values are printed once they can be
    commanded, so the README's first curl does not meet a charger still connecting."""
    for proto in ("ocpp1.6", "ocpp2.0.1"):
        ids = ",".join(cp for cp, p in demo.DEMO_CHARGERS if p == proto)
        argv = ["sim", "--url", run.csms_url, "--protocol", proto, "--ids", ids]
        run.children.append(children.spawn(f"sim-{proto}", argv, run.env(), run.logs))
    online = partial(demo.all_online, str(run.settings.redis_url), Keys.of(run.settings))
    try:
        children.wait_until(online, "the simulated chargers", run.children)
    except RuntimeError as exc:
        print(f"warning: {exc}; see {run.logs}/sim-*.log", file=sys.stderr)


def _values(run: Run, layout: Plan, api_key: str) -> dict[str, str]:
    """What dev.env holds and the banner shows."""
    s = run.settings
    return {
        "EVCS_CSMS_URL": run.csms_url,
        "EVCS_GATEWAY_URL": run.gateway_url,
        "EVCS_CONSOLE_URL": run.console_url,
        "EVCS_DEMO_API_KEY": api_key,
        "EVCS_ADMIN_TOKEN": run.admin_token,
        "EVCS_DEMO_CHARGERS": ",".join(cp for cp, _ in demo.DEMO_CHARGERS),
        "EVCS_OTHER_PARTNER_CHARGER": demo.OTHER_CHARGER,
        "EVCS_DATABASE_URL": str(s.database_url),
        "EVCS_REDIS_URL": str(s.redis_url),
        "EVCS_STREAM_SHARDS": str(s.stream_shards),
        "EVCS_METRICS_URLS": ",".join(f"http://{s.ops_host}:{p}/metrics" for p in layout.ops),
    }


def _wait_for_stop(run: Run) -> None:
    """Until Ctrl-C or SIGTERM, or a child exits."""
    while not run.stopping:
        for child in run.children:
            if child.process.poll() is not None:
                print(
                    f"{child.name} exited with {child.process.returncode}; see {child.log}",
                    file=sys.stderr,
                )
                run.stopping = True
        time.sleep(0.2)


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
    tokens = authorize_unknown(os.environ)
    unknown_tokens = (
        "tokens (RFID cards) nobody registered are accepted"
        if tokens == "Accepted"
        else "tokens (RFID cards) nobody registered are refused"
    )
    print(
        "\nevcs dev is running — PERMISSIVE MODE for local work: chargers connect without\n"
        "authentication and unknown chargers are accepted. Never run it like this in production.\n"
        f"Authorization: {unknown_tokens} (EVCS_AUTHORIZE_UNKNOWN={tokens}).\n"
    )
    for key in (
        "EVCS_CSMS_URL",
        "EVCS_GATEWAY_URL",
        "EVCS_CONSOLE_URL",
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
