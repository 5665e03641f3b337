"""The route table, in one place. Order matters: `/chargers/batch/status` comes before
`/chargers/{chargerId}/status`, or the batch would be read as a charger called "batch"."""

from __future__ import annotations

from aiohttp import web

from gateway.routes import chargers, control, ops

API = "/api/v1"


def add_routes(app: web.Application) -> None:
    app.add_routes(
        [
            web.get(f"{API}/health", ops.health),
            web.get(f"{API}/health/ready", ops.ready),
            web.get("/metrics", ops.metrics),
            web.get(f"{API}/chargers", chargers.list_chargers),
            web.get(f"{API}/chargers/batch/status", chargers.batch_status_get),
            web.post(f"{API}/chargers/batch/status", chargers.batch_status_post),
            web.get(f"{API}/chargers/{{chargerId:[^/]+}}/status", chargers.charger_status),
            web.put(f"{API}/chargers/{{chargerId:[^/]+}}/status", control.change_status),
            web.post(f"{API}/chargers/{{chargerId:[^/]+}}/control", control.control),
        ]
    )
