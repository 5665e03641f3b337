"""GET /admin/system: the operator console's System page: storage health as the readiness
check computes it, the csms nodes with their chargers, and the recorders' lag."""

from __future__ import annotations

import logging

from aiohttp import web

from gateway import system
from gateway.api import Endpoint, Reply
from gateway.command_log import iso_epoch
from gateway.errors import STORAGE_UNAVAILABLE
from gateway.jsonio import json_response
from gateway.routes.ops import storage_checks
from gateway.routes.paths import ADMIN
from gateway.state import CENSUS, DRAINING, KEYS, NODES, REDIS
from gateway.system_schemas import (
    SYSTEM_EXAMPLE,
    FleetCountJson,
    NodeJson,
    RecorderJson,
    SystemJson,
)

log = logging.getLogger(__name__)


async def system_status(request: web.Request) -> web.Response:
    app = request.app
    checks = await storage_checks(app)
    counted: FleetCountJson | None = None
    per_node: dict[str, int] = {}
    nodes: list[NodeJson] | None = None
    recorder: RecorderJson | None = None
    # each part is shown if its storage answers: the page is most needed when one does not
    if checks["redis"] == "ok" and checks["postgresql"] == "ok":
        try:
            count = await app[CENSUS].count(app[NODES].alive)
            per_node = count.per_node
            counted = {
                "registered": count.registered,
                "online": count.online,
                "countedAt": iso_epoch(count.at),
            }
        except STORAGE_UNAVAILABLE:
            log.warning("cannot count the chargers", exc_info=True)
    if checks["redis"] == "ok":
        try:
            nodes = await system.nodes(app[REDIS], app[KEYS], per_node)
            recorder = await system.recorder(app[REDIS], app[KEYS])
        except STORAGE_UNAVAILABLE:
            log.warning("cannot read the nodes or the stream", exc_info=True)
    answer: SystemJson = {
        "checks": checks,
        "draining": app[DRAINING].is_set(),
        "chargers": counted,
        "nodes": nodes,
        "recorder": recorder,
    }
    return json_response(answer)


SYSTEM = Endpoint(
    "GET",
    f"{ADMIN}/system",
    system_status,
    "adminSystem",
    "Storage health, csms nodes with their chargers, recorder lag",
    "admin: system",
    access="admin",
    description="`checks` as GET /health/ready computes them (on this gateway). `nodes`: every"
    " csms node that announced itself in the last hour, whether its keep-alive holds and how"
    " many registered chargers it holds now (counted from every charger's state, at most"
    " every 10 s). `recorder`: per stream shard, entries read but not yet written, entries"
    " not yet read, and the age of the oldest entry not yet in PostgreSQL. A part whose"
    " storage does not answer is null.",
    replies={200: Reply("The system", SystemJson, SYSTEM_EXAMPLE)},
)
