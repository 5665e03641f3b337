"""What `evcs soak` breaks, in which order, and when each fault counts as recovered: plain
decisions, drawn from one seeded random generator so that a seed names a run."""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    name: str
    what: str  # what is done
    recovered: str  # when it counts as recovered, and from when that is measured


KINDS = {
    k.name: k
    for k in (
        Kind(
            "csms-kill",
            "SIGKILL a csms node, start it again",
            "every charger acknowledged again; from the kill",
        ),
        Kind(
            "recorder-kill",
            "SIGKILL a recorder, start it again",
            "PostgreSQL holds everything acknowledged before the kill; from the kill",
        ),
        Kind(
            "gateway-kill",
            "SIGKILL a gateway, start it again",
            "the new gateway answers a partner request; from the kill",
        ),
        Kind(
            "redis-restart",
            "stop Redis (SIGTERM; every node of a cluster), start it again",
            "every charger acknowledged again; from Redis back",
        ),
        Kind(
            "redis-kill",
            "SIGKILL Redis, start it again (the append-only file keeps the data)",
            "every charger acknowledged again; from Redis back",
        ),
        Kind(
            "postgres-restart",
            "stop PostgreSQL, start it again",
            "PostgreSQL holds everything acknowledged before it was back; from PostgreSQL back",
        ),
        Kind(
            "link-drop",
            "partition csms <-> Redis for 2-5 s: nothing passes, connections hang",
            "every charger acknowledged again; from the link back",
        ),
        Kind(
            "link-reset",
            "cut csms <-> Redis for 2-5 s: connections reset, new ones refused",
            "every charger acknowledged again; from the link back",
        ),
        Kind(
            "primary-failover",
            "SIGKILL a cluster primary; its replica takes over; start it again as a replica",
            "every charger acknowledged again; from the kill",
        ),
    )
}
STANDALONE = (
    "csms-kill",
    "recorder-kill",
    "gateway-kill",
    "redis-restart",
    "redis-kill",
    "postgres-restart",
    "link-drop",
    "link-reset",
)
CLUSTER = (
    "csms-kill",
    "recorder-kill",
    "gateway-kill",
    "redis-restart",
    "postgres-restart",
    "primary-failover",
)
LINK_CUTS = ("link-drop", "link-reset")
CUT_SECONDS = (2.0, 5.0)
PAUSE_SECONDS = (2.0, 6.0)  # steady running between one fault's recovery and the next fault


@dataclass(frozen=True)
class Options:
    minutes: float
    seed: int
    chargers: int  # per OCPP version
    shards: int  # 1: a single Redis; more: a Redis Cluster of that many primaries
    faults: tuple[str, ...] = ()  # () = every kind the topology has
    keep_logs: bool = False  # also after a run that passed


@dataclass(frozen=True)
class Fault:
    kind: str
    target: int  # which csms node, recorder, gateway or primary (an index)
    seconds: float  # how long a link stays cut (0 for the others)
    pause: float  # seconds of steady running before it


def kinds_for(cluster: bool, only: Sequence[str] = ()) -> list[str]:
    """The kinds a run injects: those of its topology, or the ones asked for among them."""
    available = CLUSTER if cluster else STANDALONE
    if not only:
        return list(available)
    unknown = [k for k in only if k not in available]
    if unknown:
        topology = "a Redis Cluster" if cluster else "a single Redis"
        raise ValueError(
            f"not a fault on {topology}: {', '.join(unknown)} (choose from {', '.join(available)})"
        )
    return list(dict.fromkeys(only))


def schedule(
    rng: random.Random, kinds: Sequence[str], targets: Mapping[str, int]
) -> Iterator[Fault]:
    """Faults without end: every kind once per round, each round in a new random order (so a
    short run still sees each kind), with a random target among `targets[kind]` (default 1)."""
    while True:
        order = list(kinds)
        rng.shuffle(order)
        for kind in order:
            seconds = round(rng.uniform(*CUT_SECONDS), 1) if kind in LINK_CUTS else 0.0
            yield Fault(
                kind,
                rng.randrange(targets.get(kind, 1)),
                seconds,
                round(rng.uniform(*PAUSE_SECONDS), 1),
            )
