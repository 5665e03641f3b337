"""A route described once, beside its handler: what aiohttp serves, who may call it and, for
an endpoint, the operation OpenAPI documents.

A handler reads its query and body through its endpoint (`query_of`, `body_of`), so the
models that validate are the ones the document is generated from; it answers with the types
(`Reply.model`) the document names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, Never, get_args

from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import BaseModel
from typing_extensions import TypeVar

from gateway.jsonio import read_json, read_query

Access = Literal["public", "partner", "admin"]

# An endpoint's query and body models; Never for an endpoint that takes none.
Q = TypeVar("Q", bound=BaseModel, default=Never)
B = TypeVar("B", bound=BaseModel, default=Never)


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
class Endpoint(Route, Generic[Q, B]):
    """A documented route: its operation, the models it validates and the answers it gives."""

    operation_id: str
    summary: str
    tag: str
    description: str = ""
    query: type[Q] | None = None
    body: type[B] | None = None
    body_example: Any = None
    params: tuple[Param, ...] = ()
    replies: dict[int, Reply] = field(default_factory=dict)
    # Error statuses this endpoint may answer besides those every endpoint of its kind may,
    # with when it happens; each has the standard error body.
    errors: dict[int, str] = field(default_factory=dict)
    # A partner route's first read: the Redis hash its handler starts from (None when this
    # request needs none, an id that cannot exist), read in the rate limit's round trip and
    # handed to the handler only if the request is allowed (gateway.guard.prefetched).
    prefetch: Callable[[web.Request], str | None] | None = None

    @property
    def route_path(self) -> str:
        """The aiohttp path: `{name}` segments match anything but '/', so that an id with
        unusual characters reaches the handler (and gets its 404) instead of a route miss."""
        out = self.path
        for param in self.params:
            if param.where == "path":
                out = out.replace(f"{{{param.name}}}", f"{{{param.name}:[^/]+}}")
        return out

    def query_of(self, request: web.Request) -> Q:
        """The request's query parameters validated as this endpoint's query model, or 400."""
        if self.query is None:
            raise TypeError(f"{self.operation_id} declares no query model")
        self._require_served(request)
        return read_query(request, self.query)

    async def body_of(self, request: web.Request) -> B:
        """The request's body validated as this endpoint's body model: 415 unless JSON, 400
        if malformed or of the wrong shape."""
        if self.body is None:
            raise TypeError(f"{self.operation_id} declares no body model")
        self._require_served(request)
        return await read_json(request, self.body)

    def _require_served(self, request: web.Request) -> None:
        # A handler reading through another endpoint would validate what is not documented.
        if declaration_of(request) is not self:
            raise RuntimeError(f"{self.operation_id} read a request routed elsewhere")


DECLARED = web.AppKey("declared_routes", dict[web.AbstractRoute, Route])


def serve(app: web.Application, routes: Iterable[Route]) -> None:
    """Add the routes to the app in order (aiohttp tries them in that order), each with its
    declaration for the guard and the handler to read."""
    if DECLARED not in app:
        app[DECLARED] = {}
    declared = app[DECLARED]
    for route in routes:
        for method in ("HEAD", route.method) if route.head else (route.method,):
            declared[app.router.add_route(method, route.route_path, route.handler)] = route


def declaration_of(request: web.Request) -> Route:
    """The declaration of the route a request matched."""
    route = request.match_info.route
    app = request.app
    found = app[DECLARED].get(route) if DECLARED in app else None
    if found is None:
        # Served without a declaration, a route would have no access rule: refuse it.
        raise LookupError(f"{request.method} {request.path} matched a route without a declaration")
    return found
