"""A route described once: what aiohttp serves, who may call it and, for an endpoint, the
operation OpenAPI documents.

Handlers validate with the same pydantic models (`query`, `body`) and answer with the same
types (`Reply.model`) that the OpenAPI document is generated from, so the two cannot drift.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import BaseModel

Access = Literal["public", "partner", "admin"]


@dataclass(frozen=True, slots=True)
class Param:
    """A path or header parameter (query parameters come from the endpoint's query model)."""

    name: str
    where: Literal["path", "header"]
    description: str
    schema: dict[str, Any]
    example: Any = None
    required: bool = False


@dataclass(frozen=True, slots=True)
class Reply:
    """One documented answer: its type (a pydantic model or TypedDict), headers and example."""

    description: str
    model: Any = None
    example: Any = None
    headers: tuple[str, ...] = ()
    media: str = "application/json"


@dataclass(frozen=True, slots=True)
class Route:
    """A route as served: method, path, handler and who may call it. A plain Route is not
    documented (metrics, the documentation itself); an Endpoint is."""

    method: str
    path: str  # of an endpoint, the OpenAPI template: /api/v1/chargers/{chargerId}/status
    handler: Handler
    # No default: whoever adds a route decides who may call it, and the guard reads it here.
    access: Access = field(kw_only=True)
    head: bool = field(default=False, kw_only=True)  # answer HEAD too, as add_get does

    def __post_init__(self) -> None:
        if self.access not in get_args(Access):
            raise ValueError(f"{self.method} {self.path}: no such access {self.access!r}")

    @property
    def route_path(self) -> str:
        """The path as aiohttp matches it."""
        return self.path


@dataclass(frozen=True, slots=True)
class Endpoint(Route):
    """A documented route: its operation, the models it validates and the answers it gives."""

    operation_id: str
    summary: str
    tag: str
    description: str = ""
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    body_example: Any = None
    params: tuple[Param, ...] = ()
    replies: dict[int, Reply] = field(default_factory=dict)
    # Error statuses this endpoint may answer besides those every endpoint of its kind may,
    # with when it happens; each has the standard error body.
    errors: dict[int, str] = field(default_factory=dict)

    @property
    def route_path(self) -> str:
        """The aiohttp path: `{name}` segments match anything but '/', so that an id with
        unusual characters reaches the handler (and gets its 404) instead of a route miss."""
        out = self.path
        for param in self.params:
            if param.where == "path":
                out = out.replace(f"{{{param.name}}}", f"{{{param.name}:[^/]+}}")
        return out


DECLARED = web.AppKey("declared_routes", dict[web.AbstractRoute, Route])


def serve(app: web.Application, routes: Iterable[Route]) -> None:
    """Add the routes to the app in order (aiohttp tries them in that order), each with its
    declaration for the guard to read."""
    if DECLARED not in app:
        app[DECLARED] = {}
    declared = app[DECLARED]
    for route in routes:
        for method in ("HEAD", route.method) if route.head else (route.method,):
            declared[app.router.add_route(method, route.route_path, route.handler)] = route


def declaration_of(request: web.Request) -> Route:
    """The declaration of the route a request matched."""
    route = request.match_info.route
    found = request.app[DECLARED].get(route) if DECLARED in request.app else None
    if found is None:
        # Served without a declaration, a route would have no access rule: refuse it.
        raise LookupError(f"{request.method} {request.path} matched a route without a declaration")
    return found
