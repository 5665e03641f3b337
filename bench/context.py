"""What every scenario gets: resolved settings, an environment for child processes, knobs."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path

from bench import procs
from bench.stats import Figure
from shared.ports import free_port
from shared.settings import Settings

RESULTS = Path("bench/results")  # one JSON file per run, named by its start time


@dataclass
class Ctx:
    settings: Settings
    logs: Path
    quick: bool
    runs: int = 3
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    raw: dict[str, object] = field(default_factory=dict)
    # curves for the charts (bench/charts.py), by name; written to the results as "series"
    series: dict[str, object] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        """Measured seconds per run."""
        return 0.5 if self.quick else 5.0

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for a child process: the same servers, a prefix of its own run."""
        s = self.settings
        env = {
            **os.environ,
            "EVCS_DATABASE_URL": str(s.database_url),
            "EVCS_REDIS_URL": str(s.redis_url),
            "EVCS_REDIS_PREFIX": s.redis_prefix,
            "EVCS_STREAM_SHARDS": str(s.stream_shards),
            "EVCS_CHARGER_AUTH": "false",
            "EVCS_BOOT_UNKNOWN": "Accepted",
            "EVCS_LOG_LEVEL": "WARNING",
        }
        env.update(extra)
        return env

    def on(self, redis_url: str, shards: int) -> Ctx:
        """The same run (its figures, notes and logs) on another Redis."""
        s = self.settings.model_copy(update={"redis_url": redis_url, "stream_shards": shards})
        return replace(self, settings=s)

    def figure(self, scenario: str, metric: str, unit: str, target: str = "") -> Figure:
        f = Figure(scenario, metric, unit, target=target)
        self.figures.append(f)
        return f


def fresh_prefix() -> str:
    return f"bench{secrets.token_hex(3)}"


def start_csms(
    ctx: Ctx, node_id: str, log_name: str, workers: int = 1, port: int = 0, **env: str
) -> procs.Proc:
    """A csms node on `port` (a free one if 0), `workers` processes sharing it (more `EVCS_`
    variables in `env`)."""
    port = port or free_port()
    environ = ctx.env(EVCS_CSMS_PORT=str(port), EVCS_NODE_ID=node_id, **env)
    command = ["evcs", "csms", *(["--workers", str(workers)] if workers > 1 else [])]
    # workers start side by side: on two cores, seven of them take a while to import
    ready = 30.0 + 10.0 * workers
    return procs.start("csms", command, environ, port, ctx.logs / log_name, ready)


def start_gateway(ctx: Ctx, log_name: str, **extra: str) -> procs.Proc:
    """A gateway process on a free port; rate limits out of the way (reads are measured, not
    the limiter's refusals); `extra`, more of its environment."""
    port = free_port()
    env = ctx.env(
        EVCS_GATEWAY_PORT=str(port),
        EVCS_RATE_LIMIT_MINUTE="1000000000",
        EVCS_RATE_LIMIT_HOUR="1000000000",
        **extra,
    )
    return procs.start("gateway", ["evcs", "gateway"], env, port, ctx.logs / log_name)
