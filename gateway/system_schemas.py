"""The System page's data: storage checks, csms nodes with their chargers, recorder lag."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from typing_extensions import TypedDict

from gateway.schemas import ReadyChecks


class NodeJson(TypedDict):
    nodeId: Annotated[str, Field(examples=["csms-1"])]
    alive: Annotated[bool, Field(description="Its keep-alive has not lapsed")]
    aliveUntil: Annotated[
        str,
        Field(description="When its last keep-alive lapses (a node gone for an hour is dropped)"),
    ]
    chargers: Annotated[int, Field(description="Registered chargers connected to it now")]


class FleetCountJson(TypedDict):
    registered: Annotated[int, Field(description="Registered chargers, decommissioned ones aside")]
    online: Annotated[int, Field(description="Of those, connected now on a live node")]
    countedAt: Annotated[
        str, Field(description="When they were counted (counts are kept a few seconds)")
    ]


class RecorderShardJson(TypedDict):
    shard: Annotated[int, Field(description="Event stream shard (EVCS_STREAM_SHARDS)")]
    length: Annotated[int, Field(description="Entries in the stream")]
    pending: Annotated[int, Field(description="Read by a recorder, not yet written")]
    undelivered: Annotated[
        int | None,
        Field(description="Not yet read by any recorder (null if the server cannot say)"),
    ]
    lagSeconds: Annotated[
        float, Field(description="Age of the oldest entry not yet written; 0 when caught up")
    ]


class RecorderJson(TypedDict):
    started: Annotated[
        bool, Field(description="A recorder has read the stream (its consumer group exists)")
    ]
    lagSeconds: Annotated[
        float | None, Field(description="The largest shard lag; null before any recorder ran")
    ]
    shards: list[RecorderShardJson]


class SystemJson(TypedDict):
    checks: Annotated[ReadyChecks, Field(description="As the readiness check computes them")]
    draining: Annotated[bool, Field(description="This gateway is shutting down")]
    chargers: Annotated[FleetCountJson | None, Field(description="Null: storage unavailable")]
    nodes: Annotated[list[NodeJson] | None, Field(description="Null: Redis unavailable")]
    recorder: Annotated[RecorderJson | None, Field(description="Null: Redis unavailable")]


SYSTEM_EXAMPLE: SystemJson = {
    "checks": {"redis": "ok", "postgresql": "ok"},
    "draining": False,
    "chargers": {"registered": 1200, "online": 1187, "countedAt": "2026-03-01T10:15:30.000Z"},
    "nodes": [
        {
            "nodeId": "csms-1",
            "alive": True,
            "aliveUntil": "2026-03-01T10:15:45.000Z",
            "chargers": 1187,
        }
    ],
    "recorder": {
        "started": True,
        "lagSeconds": 0.04,
        "shards": [
            {"shard": 0, "length": 51234, "pending": 12, "undelivered": 0, "lagSeconds": 0.04}
        ],
    },
}
