"""The csms node's WebSocket server at /ocpp/{chargerId}, and running a node process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from contextlib import AsyncExitStack
from http import HTTPStatus
from typing import Any

from websockets.http11 import Request, Response

from csms import auth, metrics, tls
from csms.node import Node, Superseded
from csms.session import Session
from csms.transport import Options, Socket, WsServer
from shared import ops_http
from shared.framing import OCPP16, OCPP201, SUBPROTOCOLS
from shared.process import Service, cancel
from shared.redis_client import SOCKET_TIMEOUT, UNAVAILABLE, connect
from shared.redis_keys import F
from shared.settings import Settings

log = logging.getLogger(__name__)

_STORAGE_DOWN: tuple[type[BaseException], ...] = (*UNAVAILABLE, ConnectionError)


def _remote(connection: Socket) -> str:
    address = connection.remote_address
    return str(address[0]) if address else "unknown"


class CsmsServer:
    def __init__(self, node: Node) -> None:
        self.node = node
        # what the handshake read about each charger, for its connection handler
        self._accepted: weakref.WeakKeyDictionary[Socket, dict[str, str]] = (
            weakref.WeakKeyDictionary()
        )

    def _refuse(self, connection: Socket, status: HTTPStatus, reason: str, text: str) -> Response:
        metrics.HANDSHAKES_REFUSED.labels(reason).inc()
        log.info(
            "charger refused",
            extra={"reason": reason, "status": status.value, "remote": _remote(connection)},
        )
        response = connection.reject(status, text + "\n")
        if status is HTTPStatus.UNAUTHORIZED:
            response.headers["WWW-Authenticate"] = 'Basic realm="OCPP", charset="UTF-8"'
        return response

    def _unauthorized(self, connection: Socket, charger_id: str, event: str) -> Response:
        # Same answer for unknown chargers and bad credentials: existence is not revealed.
        log.warning(
            "charger authentication failed",
            extra={
                "charger_id": charger_id,
                "security_event": event,
                "security_profile": self.node.settings.security_profile,
                "remote": str(connection.remote_address),
            },
        )
        return self._refuse(connection, HTTPStatus.UNAUTHORIZED, "auth", "authentication required")

    async def process_request(self, connection: Socket, request: Request) -> Response | None:
        """Path, subprotocol and credentials, all before the upgrade."""
        charger_id = auth.charger_id_from_path(request.path)
        if charger_id is None:
            return self._refuse(
                connection, HTTPStatus.NOT_FOUND, "path", "expected /ocpp/{chargerId}"
            )
        if auth.offered_subprotocol(request.headers.get_all("Sec-WebSocket-Protocol")) is None:
            return self._refuse(
                connection,
                HTTPStatus.BAD_REQUEST,
                "subprotocol",
                f"offer one of the subprotocols {', '.join(SUBPROTOCOLS)}",
            )
        node = self.node
        older = node.connections.get(charger_id)
        if older is not None and older.busy:
            # The charger's older connection here has a write on its way (it left before the
            # answer): read the state once it lands, or the charger's resend of that message
            # would find nothing and be taken for a new one (a transaction begun twice).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(older.until_idle(), SOCKET_TIMEOUT)  # landed or failed
        try:
            key = node.keys.charger(charger_id)
            fields: dict[str, str] = await node.coalescer.execute(key, "HGETALL", key)
        except _STORAGE_DOWN:
            # a charger retries a refused handshake; 503 tells it (and its operator) to
            response = self._refuse(
                connection, HTTPStatus.SERVICE_UNAVAILABLE, "storage", "storage unavailable"
            )
            response.headers["Retry-After"] = "5"
            return response
        settings = node.settings
        if settings.charger_auth:
            if settings.security_profile == 3:
                # the certificate's CN is the charger's identity; the URL must name the same
                peercert: Any = connection.transport.get_extra_info("peercert")
                if tls.common_name(peercert) != charger_id or fields.get(F.REGISTERED) != "1":
                    return self._unauthorized(
                        connection, charger_id, "InvalidChargingStationCertificate"
                    )
            elif not auth.password_ok(
                charger_id, request.headers.get("Authorization"), fields.get(F.PASSWORD)
            ):
                return self._unauthorized(
                    connection, charger_id, "InvalidChargingStationCredentials"
                )
        if fields.get(F.REMOVED) == "1":
            return self._refuse(connection, HTTPStatus.NOT_FOUND, "removed", "unknown charger")
        self._accepted[connection] = fields
        return None

    async def handle(self, ws: Socket) -> None:
        fields = self._accepted.pop(ws, {})
        charger_id = auth.charger_id_from_path(ws.request.path if ws.request else "")
        ws.request = None  # only its path was needed
        protocol = ws.subprotocol
        if charger_id is None or protocol not in SUBPROTOCOLS:
            await ws.close(1002, "no OCPP subprotocol negotiated")
            return
        session = self._session(charger_id, str(protocol), fields)
        conn = self.node.connection(ws, session)
        presence = self.node.presence
        # A command may have reached the connection while it attached: each way out before
        # serving tells it so at once, rather than at its timeout.
        try:
            await presence.attach(conn)
        except Superseded:
            conn.abandon()
            await ws.close(1000, "replaced by a newer connection")
            return
        except Exception:
            conn.abandon()
            log.warning("could not register connection", extra={"charger_id": charger_id})
            await ws.close(1011, "central system storage unavailable")
            await presence.detach(conn, attached=False)
            return
        if self.node.closing:  # attached after the node's shutdown took its list of chargers
            conn.abandon()
            await ws.close(1001, "central system going away")
            await presence.detach(conn)
            return
        log.info(
            "charger connected",
            extra={
                "charger_id": charger_id,
                "protocol": protocol,
                "registered": session.known,
                "remote": _remote(ws),
            },
        )
        try:
            await conn.serve()
        finally:
            await presence.detach(conn)
            log.info(
                "charger disconnected",
                extra={"charger_id": charger_id, "code": ws.close_code, "reason": ws.close_reason},
            )

    def _session(self, charger_id: str, protocol: str, fields: dict[str, str]) -> Session:
        node = self.node
        known = fields.get(F.REGISTERED) == "1"
        session = Session(
            charger_id=charger_id,
            protocol=protocol,
            node_id=node.node_id,
            generation="",  # given by the registry when the connection attaches
            # A known charger reconnecting (after a failover, say) need not boot again.
            boot_accepted=known or node.settings.boot_unknown == "Accepted",
            known=known,
        )
        session.carry_over(fields)
        return session

    async def start(self, host: str, port: int) -> WsServer:
        settings = self.node.settings
        options = Options(
            # a charger that offers both versions speaks the newer one
            subprotocols=[OCPP201, OCPP16],
            max_size=settings.max_frame_bytes,  # larger frames close the connection with 1009
            ping_interval=settings.ping_interval,
            ping_timeout=settings.ping_timeout,
            # A closing handshake takes one round trip; a peer silent for a ping timeout will
            # not answer it either, so waiting longer only delays marking it offline.
            close_timeout=min(5.0, settings.ping_timeout),
        )
        # No compression (chargers rarely negotiate it; it costs CPU per frame) and no Server
        # header (no software versions for scanners).
        server = WsServer(self.handle, self.process_request, options)
        await server.listen(
            host,
            port,
            ssl_context=tls.server_context(settings),
            reuse_port=settings.reuse_port,  # --workers: several processes on one port
            # A reconnection storm is thousands of SYNs at once; the default backlog of 100
            # drops the rest, and each dropped charger waits 1, 3, 7 s for its SYN retry.
            backlog=settings.listen_backlog,
        )
        return server


class CsmsApp(Service):
    """A csms node with its server and background tasks, startable and stoppable in-process."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        assert settings.redis_url
        self.settings = settings
        self.redis: Any = None  # opened by start(): which client depends on the server
        self._server: CsmsServer | None = None
        self._ws: WsServer | None = None

    @property
    def node(self) -> Node:
        assert self._server is not None, "start() the app first"
        return self._server.node

    @property
    def port(self) -> int:
        assert self._ws is not None
        port: int = self._ws.listening[0].getsockname()[1]
        return port

    @property
    def url(self) -> str:
        scheme = "ws" if self.settings.security_profile == 1 else "wss"
        return f"{scheme}://{self.settings.csms_host}:{self.port}/ocpp"

    async def _start(self, stack: AsyncExitStack) -> None:
        settings = self.settings
        tls.server_context(settings)  # a bad TLS setup fails here, before anything runs
        assert settings.redis_url
        self.redis = await connect(settings.redis_url, mode=settings.redis_mode)
        stack.push_async_callback(self.redis.aclose)
        node = Node(settings, self.redis)
        stack.push_async_callback(node.aclose)
        server = self._server = CsmsServer(node)
        await node.prepare()
        stack.push_async_callback(self._retire)
        # Subscribed before the node listens: a command right behind a charger's attach
        # finds the node listening.
        commands = node.commands.channel()
        await commands.start()
        stack.push_async_callback(commands.stop)
        await node.presence.announce(settings.node_ttl)  # alive from the moment it listens
        stack.push_async_callback(
            cancel, asyncio.create_task(node.presence.keep_alive(settings.node_ttl))
        )
        self._ws = await server.start(settings.csms_host, settings.csms_port)
        stack.push_async_callback(self._close_chargers)
        # stopped first, so load balancers drop the node before it closes its chargers
        ops = await ops_http.start(settings.ops_host, settings.ops_port, {"redis": self.redis.ping})
        if ops is not None:
            stack.push_async_callback(ops.stop)
        log.info(
            "csms node listening",
            extra={
                "node_id": node.node_id,
                "url": self.url,
                "charger_auth": settings.charger_auth,
                "security_profile": settings.security_profile,
                "boot_unknown": settings.boot_unknown,
                "authorize_unknown": settings.authorize_unknown,
                "authorize_concurrent_tx": settings.authorize_concurrent_tx,
            },
        )

    async def _close_chargers(self) -> None:
        """Stop accepting, close chargers with 1001 so they reconnect elsewhere, and answer the
        commands still running with errors."""
        assert self._ws is not None
        self._ws.close()
        await self.node.shutdown()
        await self._ws.wait_closed()

    async def _retire(self) -> None:
        try:
            await self.node.presence.retire()
        except Exception:  # Redis down at shutdown: the node ages out of the registry anyway
            log.warning("could not retire the node", extra={"node_id": self.node.node_id})
        log.info("csms node stopped", extra={"node_id": self.node.node_id})
