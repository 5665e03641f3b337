"""Tokens (RFID idTags / OCPP 2.0.1 idTokens) that may start charging sessions."""

from __future__ import annotations

from typing import Literal

from evcharging_client.models.base import Model

TokenStatus = Literal["Accepted", "Blocked", "Expired"]
"""A token's status: Accepted may charge; Blocked and Expired are refused."""


class Token(Model):
    """A token (admin API, and a partner's own)."""

    id: str
    type: str
    status: TokenStatus
    """As set."""
    effective_status: TokenStatus
    """What an Authorize gets now: Expired past ``expires_at``."""
    expires_at: str | None
    group_id: str | None
    partner_id: str | None
    """None: the operator's own token."""
    created_at: str
    updated_at: str


class TokenPage(Model):
    """One page of tokens, in id order."""

    tokens: list[Token]
    next_cursor: str | None
