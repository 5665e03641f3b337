"""Operators' console sessions: what signing in takes and what it answers."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from typing_extensions import TypedDict

from gateway.schemas import ISO_EXAMPLE, BodyModel, Timestamp


class ConsoleSessionCreate(BodyModel):
    actor: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9._@+-]{1,64}$",
        description="Your name for the audit log: what the session does is by console:<actor>"
        " (default: console)",
        examples=["alice"],
    )


class ConsoleSessionJson(TypedDict):
    actor: Annotated[
        str,
        Field(description="Who the audit log names for this session", examples=["console:alice"]),
    ]
    csrfToken: Annotated[
        str,
        Field(
            description="Send it as X-CSRF-Token with every call but GET and HEAD made with the"
            " session's cookie",
            examples=["b3JmQ2Nzc2F0ZXN0LXRva2VuLWV4YW1wbGUtMDEyMw"],
        ),
    ]
    createdAt: Timestamp
    expiresAt: Annotated[
        str, Field(description="When the session ends (sign in again)", examples=[ISO_EXAMPLE])
    ]


class ConsoleSessionEndedJson(TypedDict):
    ended: Annotated[
        bool, Field(description="Whether there was a session to end (false: none, or ended)")
    ]
