"""An endpoint described once: the route aiohttp serves and the operation OpenAPI documents.

Handlers validate with the same pydantic models (`query`, `body`) and answer with the same
types (`Reply.model`) that the OpenAPI document is generated from, so the two cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp.typedefs import Handler
from pydantic import BaseModel

Access = Literal["public", "partner", "admin"]

ACCESS_ATTR = "_evcs_access"


def access_of(handler: object) -> Access:
    """Who may call a handler: partners unless the route table (or @public) says otherwise."""
    access: Access = getattr(handler, ACCESS_ATTR, "partner")
    return access


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
class Endpoint:
    method: str
    path: str  # OpenAPI template: /api/v1/chargers/{chargerId}/status
    handler: Handler
    operation_id: str
    summary: str
    tag: str
    access: Access = "partner"
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
