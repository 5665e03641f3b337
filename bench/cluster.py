"""Scenario cluster: the same ingest on one Redis server, a 1-primary and a 3-primary Redis
Cluster (embedded, no replicas, so each primary's CPU is its own); how evenly the primaries
share the commands; Redis CPU per message; the partner command round trip on the cluster;
sharded pub/sub against a cluster-wide broadcast; and the 1M-charger projection re-derived
from what one primary measured here."""

from __future__ import annotations

import math
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import redis

from bench import control, procs, reads
from bench.context import Ctx
from bench.ingest import _specs
from bench.loadgen import Result, run_workers
from bench.sampler import Peak
from bench.stats import percentile
from shared import embedded_cluster
from shared.ports import free_port
from shared.redis_client import parse_url

CHARGERS = 1_000_000  # at one message per second each
PRIMARY_BUSY = 0.7  # a primary planned at 70% of a core leaves room for failover and peaks


@dataclass
class Topology:
    label: str
    url: str
    primaries: list[tuple[str, int]]  # host, port of every primary
    shards: int
    folder: Path | None = None

    def env(self, ctx: Ctx) -> dict[str, str]:
        return ctx.on(self.url, self.shards).env()


@dataclass
class Usage:
    """CPU seconds and commands processed per primary."""

    cpu: list[float] = field(default_factory=list)
    commands: list[int] = field(default_factory=list)


def _usage(primaries: list[tuple[str, int]]) -> Usage:
    out = Usage()
    for host, port in primaries:
        with redis.Redis(host=host, port=port, decode_responses=True) as r:
            cpu, stats = r.info("cpu"), r.info("stats")
        out.cpu.append(float(cpu["used_cpu_sys"]) + float(cpu["used_cpu_user"]))
        out.commands.append(int(stats["total_commands_processed"]))
    return out


def _cluster(primaries: int, replicas: int = 0) -> Topology:
    folder = Path(tempfile.mkdtemp(prefix="evcs-bench-cluster-"))
    url = embedded_cluster.start(folder, primaries, replicas=replicas)
    layout = embedded_cluster.read_layout(folder)
    hosts = [("127.0.0.1", p) for p in layout.ports[:primaries]]
    label = f"cluster, {primaries} primar{'y' if primaries == 1 else 'ies'}"
    if replicas:
        label += f" with {replicas} replica each"
    return Topology(label, url, hosts, primaries, folder)


def _standalone(ctx: Ctx) -> Topology:
    url = str(ctx.settings.redis_url)
    return Topology("one server", url, parse_url(url).hosts, 1)


def _ingest(ctx: Ctx, topo: Topology) -> None:
    """Closed-loop ingest against one csms on the topology."""
    conns = 200 if ctx.quick else 1000
    workers = 1 if ctx.quick else 2
    rate = ctx.figure("cluster", f"ingest, {topo.label}", "msg/s")
    redis_us = ctx.figure("cluster", f"Redis CPU per message, {topo.label}", "µs")
    csms_us = ctx.figure("cluster", f"csms CPU per message, {topo.label}", "µs")
    share = ctx.figure(
        "cluster",
        f"busiest primary's share of commands over an even share, {topo.label}",
        "%",
        "within ±15%" if len(topo.primaries) > 1 else "",
    )
    env = topo.env(ctx)
    csms = procs.start(
        "csms",
        ["evcs", "csms"],
        {**env, "EVCS_CSMS_PORT": str(port := free_port()), "EVCS_NODE_ID": "bench-cl"},
        port,
        ctx.logs / f"csms-{topo.shards}.log",
    )
    try:
        for n in range(ctx.runs):
            before, cpu0 = _usage(topo.primaries), procs.cpu_seconds(csms.pid)
            results: list[Result] = run_workers(_specs(port, conns, workers, f"K{n}", ctx.seconds))
            after, cpu1 = _usage(topo.primaries), procs.cpu_seconds(csms.pid)
            seconds = max(r.seconds for r in results) or 1.0
            warm = sum(r.seconds for r in results) / len(results) + 0.5
            answered = sum(r.answered for r in results)
            # CPU is read around the whole run (connect and warm-up too): scale to the measured
            scale = seconds / warm
            rate.runs.append(answered / seconds)
            spent = sum(a - b for a, b in zip(after.cpu, before.cpu, strict=True))
            redis_us.runs.append(spent * scale / answered * 1e6)
            csms_us.runs.append((cpu1 - cpu0) * scale / answered * 1e6)
            done = [a - b for a, b in zip(after.commands, before.commands, strict=True)]
            even = sum(done) / len(done)
            share.runs.append(100 * (max(done) - even) / even)
    finally:
        csms.stop()


def _pubsub(ctx: Ctx, topo: Topology, messages: int) -> None:
    """Redis CPU per message, summed over the primaries: PUBLISH (every primary relays every
    message over the cluster bus) against SPUBLISH (only the channel's shard sees it)."""
    from redis.cluster import ClusterNode, RedisCluster

    client = RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in topo.primaries])
    channel = "bench:node:n1:commands"
    owner = client.get_node_from_key(channel)
    listener = redis.Redis(host=owner.host, port=owner.port)
    sub = listener.pubsub()
    sub.subscribe(channel)
    sub.ssubscribe(channel)
    payload = b"x" * 300  # about a command envelope
    try:
        for label, publish in (("PUBLISH", client.publish), ("SPUBLISH", client.spublish)):
            figure = ctx.figure(
                "cluster", f"Redis CPU per command message, {label} on {topo.label}", "µs"
            )
            for _ in range(ctx.runs):
                before = _usage(topo.primaries)
                for _ in range(messages):
                    publish(channel, payload)
                while sub.get_message(timeout=0.01):
                    pass
                after = _usage(topo.primaries)
                spent = sum(a - b for a, b in zip(after.cpu, before.cpu, strict=True))
                figure.runs.append(spent / messages * 1e6)
    finally:
        sub.close()
        listener.close()
        client.close()


def _replica_lag(pairs: list[tuple[int, int]]) -> int:
    """At most how many bytes of the replication stream the furthest-behind replica lacks:
    the replica's own offset (not the one it confirms to its primary once a second), then the
    primary's; what the primary wrote between the two reads counts too, so this bounds the
    lag from above."""
    worst = 0
    for primary, replica in pairs:
        with redis.Redis(port=primary) as p, redis.Redis(port=replica) as r:
            got = int(r.info("replication").get("slave_repl_offset", 0))
            sent = int(p.info("replication")["master_repl_offset"])
        worst = max(worst, sent - got)
    return worst


def _wait_cost(ctx: Ctx) -> None:
    """What answering only after a replica holds the message (EVCS_REDIS_WAIT_REPLICAS=1)
    costs, and how far a replica trails without it: what a failover could lose."""
    topo = _cluster(3, replicas=1)
    assert topo.folder is not None
    layout = embedded_cluster.read_layout(topo.folder)
    pairs = [(layout.ports[i], layout.ports[i + layout.primaries]) for i in range(3)]
    conns = 200 if ctx.quick else 1000
    workers = 1 if ctx.quick else 2
    try:
        for wait in (0, 1):
            rate = ctx.figure("cluster", f"ingest, {topo.label}, WAIT {wait}", "msg/s")
            p50 = ctx.figure("cluster", f"answer p50, closed loop, WAIT {wait}", "ms")
            p99 = ctx.figure("cluster", f"answer p99, closed loop, WAIT {wait}", "ms")
            lag = ctx.figure(
                "cluster", f"replica behind its primary, peak (at most), WAIT {wait}", "messages"
            )
            env = {**topo.env(ctx), "EVCS_REDIS_WAIT_REPLICAS": str(wait)}
            port = free_port()
            csms = procs.start(
                "csms",
                ["evcs", "csms"],
                {**env, "EVCS_CSMS_PORT": str(port), "EVCS_NODE_ID": f"bench-wait{wait}"},
                port,
                ctx.logs / f"csms-wait{wait}.log",
            )
            try:
                for n in range(ctx.runs):
                    offsets0 = _offsets(topo.primaries)
                    with Peak(lambda: float(_replica_lag(pairs)), 0.01) as peak:
                        results = run_workers(
                            _specs(port, conns, workers, f"W{wait}{n}", ctx.seconds)
                        )
                    answered = sum(r.answered for r in results)
                    seconds = max(r.seconds for r in results) or 1.0
                    per_message = (sum(_offsets(topo.primaries)) - sum(offsets0)) / max(1, answered)
                    latencies = sorted(v for r in results for v in r.latencies_ns)
                    rate.runs.append(answered / seconds)
                    p50.runs.append(percentile(latencies, 0.5) / 1e6)
                    p99.runs.append(percentile(latencies, 0.99) / 1e6)
                    lag.runs.append(peak.peak / per_message if per_message else 0.0)
            finally:
                csms.stop()
    finally:
        assert topo.folder is not None
        embedded_cluster.stop(topo.folder)
        shutil.rmtree(topo.folder, ignore_errors=True)


def _offsets(primaries: list[tuple[str, int]]) -> list[int]:
    out = []
    for host, port in primaries:
        with redis.Redis(host=host, port=port, decode_responses=True) as r:
            out.append(int(r.info("replication").get("master_repl_offset", 0)))
    return out


def _project(ctx: Ctx, topo: Topology) -> None:
    per_message = next(
        f.median for f in ctx.figures if f.metric == f"Redis CPU per message, {topo.label}"
    )
    primaries = math.ceil(CHARGERS * per_message / 1e6 / PRIMARY_BUSY)
    ctx.figure(
        "cluster", "Redis primaries for 1M chargers (measured per shard)", "primaries"
    ).runs.append(primaries)
    ctx.notes.append(
        f"cluster: {per_message:.1f} µs of Redis CPU per charger message on the {topo.label} "
        f"(summed over its primaries) -> {CHARGERS:,} messages/s need "
        f"{CHARGERS * per_message / 1e6:.1f} primary cores, {primaries} primaries at "
        f"{PRIMARY_BUSY:.0%} busy each (headroom for a failover and peaks)"
    )


def run(ctx: Ctx) -> None:
    topologies = [_standalone(ctx), _cluster(1), _cluster(3)]
    try:
        for topo in topologies:
            _ingest(ctx, topo)
        three = topologies[-1]
        top = _ingest_rate(ctx, three)
        _project(ctx, three)
        _pubsub(ctx, three, 2_000 if ctx.quick else 20_000)
        on_cluster = ctx.on(three.url, three.shards)
        control.run(on_cluster, scenario="cluster", where=f", {three.label}", top=top)
        reads.run(on_cluster, scenario="cluster", where=f", {three.label}", tag="c")
        _wait_cost(ctx)
    finally:
        for topo in topologies:
            if topo.folder is not None:
                embedded_cluster.stop(topo.folder)
                shutil.rmtree(topo.folder, ignore_errors=True)
    print(f"cluster: {', '.join(t.label for t in topologies)}", file=sys.stderr)


def _ingest_rate(ctx: Ctx, topo: Topology) -> float:
    return next(f.median for f in ctx.figures if f.metric == f"ingest, {topo.label}")
