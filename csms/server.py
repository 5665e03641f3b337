"""The csms node's WebSocket server at /ocpp/{chargerId}, and running a node process."""

from __future__ import annotations

import asyncio
import logging
from http import HTTPStatus

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from csms import auth, metrics
from csms.connection import ChargerConnection
from csms.framing import SUBPROTOCOLS
from csms.node import Node
from csms.session import Session
from shared.process import wait_for_signal
from shared.redis_client import connect
from shared.redis_keys import F
from shared.settings import Settings

log = logging.getLogger(__name__)


class CsmsServer:
    def __init__(self, node: Node) -> None:
        self.node = node
        self._accepted: dict[int, dict[str, str]] = {}

    def _refuse(
        self, connection: ServerConnection, status: HTTPStatus, reason: str, text: str
    ) -> Response:
        metrics.HANDSHAKES_REFUSED.labels(reason).inc()
        response = connection.respond(status, text + "\n")
        if status is HTTPStatus.UNAUTHORIZED:
            response.headers["WWW-Authenticate"] = 'Basic realm="OCPP", charset="UTF-8"'
        return response

    async def process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
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
        fields: dict[str, str] = await node.redis.hgetall(node.keys.charger(charger_id))
        settings = node.settings
        if settings.charger_auth:
            # Same answer for unknown chargers and wrong passwords: existence is not revealed.
            if not auth.password_ok(
                charger_id, request.headers.get("Authorization"), fields.get(F.PASSWORD)
            ):
                log.warning(
                    "charger authentication failed",
                    extra={
                        "charger_id": charger_id,
                        "security_event": "InvalidChargingStationCredentials",
                        "remote": str(connection.remote_address),
                    },
                )
                return self._refuse(
                    connection, HTTPStatus.UNAUTHORIZED, "auth", "authentication required"
                )
        if fields.get(F.REMOVED) == "1":
            return self._refuse(connection, HTTPStatus.NOT_FOUND, "removed", "unknown charger")
        self._accepted[id(connection)] = fields
        return None

    async def handle(self, ws: ServerConnection) -> None:
        fields = self._accepted.pop(id(ws), {})
        charger_id = auth.charger_id_from_path(ws.request.path if ws.request else "")
        protocol = ws.subprotocol
        if charger_id is None or protocol not in SUBPROTOCOLS:
            await ws.close(1002, "no OCPP subprotocol negotiated")
            return
        session = self._session(charger_id, str(protocol), fields)
        conn = ChargerConnection(ws, session, self.node)
        try:
            await self.node.attach(conn)
        except Exception:
            log.warning("could not register connection", extra={"charger_id": charger_id})
            await ws.close(1011, "central system storage unavailable")
            return
        try:
            await conn.serve()
        finally:
            await self.node.detach(conn)

    def _session(self, charger_id: str, protocol: str, fields: dict[str, str]) -> Session:
        node = self.node
        known = fields.get(F.REGISTERED) == "1"
        session = Session(
            charger_id=charger_id,
            protocol=protocol,
            node_id=node.node_id,
            generation=node.new_generation(),
            # A known charger reconnecting (after a failover, say) need not boot again.
            boot_accepted=known or node.settings.boot_unknown == "Accepted",
            known=known,
        )
        # Carry on from the last connection: statuses and running transactions.
        if fields.get(F.PROTOCOL) == protocol:
            for name, value in fields.items():
                if not value:
                    continue
                if name.startswith(F.RAW):
                    session.raw_status[int(name[len(F.RAW) :])] = value
                elif name.startswith(F.CHARGING_STATE):
                    session.charging_state[int(name[len(F.CHARGING_STATE) :])] = value
                elif name.startswith(F.TRANSACTION):
                    session.transactions[int(name[len(F.TRANSACTION) :])] = value
        return session

    async def start(self, host: str, port: int) -> Server:
        settings = self.node.settings
        return await serve(
            self.handle,
            host,
            port,
            subprotocols=list(SUBPROTOCOLS),  # type: ignore[arg-type]
            process_request=self.process_request,
            max_size=settings.max_frame_bytes,
            ping_interval=30,
            ping_timeout=30,
            compression=None,  # chargers rarely negotiate it; it costs CPU per frame
        )


class CsmsApp:
    """A csms node with its server and background tasks, startable and stoppable in-process."""

    def __init__(self, settings: Settings) -> None:
        assert settings.redis_url
        self.settings = settings
        self.redis = connect(settings.redis_url)
        self.node = Node(settings, self.redis)
        self._server = CsmsServer(self.node)
        self._ws: Server | None = None
        self._background: list[asyncio.Task[None]] = []

    @property
    def port(self) -> int:
        assert self._ws is not None
        port: int = next(iter(self._ws.sockets)).getsockname()[1]
        return port

    @property
    def url(self) -> str:
        return f"ws://{self.settings.csms_host}:{self.port}/ocpp"

    async def start(self) -> None:
        subscribed = asyncio.Event()
        self._background = [
            asyncio.create_task(self.node.keep_alive()),
            asyncio.create_task(self.node.listen_for_commands(subscribed)),
        ]
        await subscribed.wait()
        self._ws = await self._server.start(self.settings.csms_host, self.settings.csms_port)
        log.info(
            "csms node listening",
            extra={
                "node_id": self.node.node_id,
                "url": self.url,
                "charger_auth": self.settings.charger_auth,
                "boot_unknown": self.settings.boot_unknown,
            },
        )

    async def stop(self) -> None:
        """Stop accepting, close chargers with 1001 so they reconnect elsewhere, retire the node."""
        if self._ws is not None:
            self._ws.close(close_connections=False)
        await self.node.shutdown()
        if self._ws is not None:
            await self._ws.wait_closed()
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        try:
            await self.node.retire()
        finally:
            await self.redis.aclose()
        log.info("csms node stopped", extra={"node_id": self.node.node_id})


async def run_node(settings: Settings) -> None:
    """Run a csms node until SIGTERM or SIGINT."""
    app = CsmsApp(settings)
    await app.start()
    await wait_for_signal()
    await app.stop()
