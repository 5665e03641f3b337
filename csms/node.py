"""A csms node: its charger connections (csms/presence.py), the commands published to it
(csms/command_runner.py), the store they write through, and its shutdown."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from csms import handlers_v16, handlers_v201, signing
from csms.authorization import TokenReader
from csms.command_runner import CommandRunner
from csms.connection import ChargerConnection
from csms.presence import Presence, Superseded
from csms.protocol import ChargerProtocol, Policy
from csms.session import Handler, Session
from csms.store import StateWriter
from csms.transport import Socket
from csms.txids import TransactionIds
from shared import ocpp_schemas
from shared.framing import OCPP16, OCPP201
from shared.ocpp_schemas import Validator
from shared.process import spawn
from shared.redis_batch import Coalescer
from shared.redis_keys import Keys
from shared.redis_lane import Lanes, hot_path
from shared.settings import Settings

log = logging.getLogger(__name__)


class Node:
    def __init__(self, settings: Settings, r: Any) -> None:
        self.settings = settings
        self.redis = r
        self.keys = Keys.of(settings)
        self.node_id = settings.node_id
        self.connections: dict[str, ChargerConnection] = {}
        self.closing = False
        self._tasks: set[asyncio.Task[Any]] = set()
        # The state writer's batches and the coalescer's calls each go down lanes of their
        # own: to the one server, or on a cluster to each primary (over TLS: redis-py
        # pipelines per primary).
        self._writer_lanes = Lanes()
        self._coalescer_lanes = Lanes()
        self.writer = StateWriter(
            r,
            self.keys,
            wait_replicas=settings.redis_wait_replicas,
            wait_timeout_ms=settings.redis_wait_timeout_ms,
            lanes=self._writer_lanes,
        )
        self.transaction_ids = TransactionIds(r, self.keys.transaction_ids)
        self.handlers: dict[str, dict[str, Handler]] = {
            OCPP16: handlers_v16.handlers(self.transaction_ids),
            OCPP201: handlers_v201.handlers(),
        }
        if settings.csms_ca_cert_file and settings.csms_ca_key_file:
            ca = signing.Authority.load(
                settings.csms_ca_cert_file, settings.csms_ca_key_file, settings.csms_cert_days
            )
            for handlers in self.handlers.values():
                handlers["SignCertificate"] = signing.sign_certificate(ca)
        # compiled once here so that a message costs one dict lookup to find its validator
        self.validators: dict[str, dict[str, Validator | None]] = {
            protocol: {action: ocpp_schemas.validator(protocol, action) for action in handlers}
            for protocol, handlers in self.handlers.items()
        }
        self.policy = Policy(
            settings.heartbeat_interval,
            settings.boot_unknown,
            settings.boot_retry_interval,
            settings.max_connectors,
            settings.authorize_unknown,
            settings.authorize_concurrent_tx,
        )
        # Commands go ahead of telemetry: their Redis calls have a connection of their own
        # instead of queueing behind the state writer's batches or for redis-py's pool.
        self.command_path = hot_path(r, eager=True)
        self.tokens = TokenReader(self.keys, self.command_path)
        # the handshake's hash read and the attach/detach scripts, batched across chargers
        self.coalescer = Coalescer(r, lanes=self._coalescer_lanes)
        self.presence = Presence(
            r, self.keys, self.node_id, self.connections, self.writer, self._spawn, self.coalescer
        )
        self.commands = CommandRunner(
            r,
            self.keys,
            self.presence,
            self.writer,
            self._spawn,
            lambda: self.closing,
            self.command_path,
            self.tokens,
        )

    async def aclose(self) -> None:
        """Close the node's own connections to Redis, after its chargers' last writes."""
        for lanes in (self._writer_lanes, self._coalescer_lanes):
            await lanes.aclose()
        await self.command_path.aclose()

    async def prepare(self) -> None:
        """What the node needs before it takes chargers: transaction ids to hand out."""
        await self.transaction_ids.reserve()

    def connection(self, ws: Socket, session: Session) -> ChargerConnection:
        """A charger's connection on this node, speaking its protocol version."""
        protocol = ChargerProtocol(
            session,
            self.handlers[session.protocol],
            self.validators[session.protocol],
            self.policy,
        )
        return ChargerConnection(
            ws, protocol, self.writer.submit, lambda: not self.closing, self.tokens, self._spawn
        )

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        return spawn(self._tasks, coro)

    async def shutdown(self, timeout: float = 10.0, drain: float = 1.0) -> None:
        """Answer the charger CALLs in hand and hear the answers to commands sent, then close
        every charger with 1001 so it reconnects elsewhere; commands still running end with an
        error reply (or go to the charger's new node) before this returns."""
        self.closing = True
        conns = list(self.connections.values())
        try:
            async with asyncio.timeout(drain):
                await asyncio.gather(*(c.until_idle() for c in conns))
                # a charger that got a command (a reset) acts on it: its answer says how
                sent = [fut for c in conns for fut in c.awaiting()]
                if sent:
                    await asyncio.wait(sent)
        except TimeoutError:
            log.warning("closing with CALLs still being answered")
        await asyncio.gather(
            *(c.close(1001, "central system going away") for c in conns), return_exceptions=True
        )
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=timeout)


__all__ = ["Node", "Superseded"]
