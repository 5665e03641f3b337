"""The gateway's liveness and readiness."""

from __future__ import annotations

from typing import Literal

from evcharging_client.models.base import Model


class Health(Model):
    """The gateway is alive."""

    status: Literal["ok"]


class ReadyChecks(Model):
    redis: Literal["ok", "unavailable"]
    postgresql: Literal["ok", "unavailable"]


class Ready(Model):
    """The gateway's storage answers."""

    status: Literal["ok"]
    checks: ReadyChecks
