"""A scripted OCPP central system for the simulator tests: a real WebSocket server.

It answers the charger's CALLs with canned replies, lets a test send CALLs to a charger, and
checks every frame a charger sends against the official OCPP JSON schemas of the `ocpp`
package, collecting violations in `invalid`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from http import HTTPStatus
from importlib import resources
from typing import Any

import fastjsonschema
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

Payload = dict[str, Any]
Reply = Payload | Callable[["Session", Payload], Payload]
SCHEMAS = resources.files("ocpp")


@cache
def validator(protocol: str, action: str, response: bool) -> Callable[[Any], Any]:
    """The compiled official schema of one OCPP request or response."""
    if protocol == "ocpp1.6":
        path = SCHEMAS / "v16" / "schemas" / f"{action}{'Response' if response else ''}.json"
    else:
        path = (
            SCHEMAS / "v201" / "schemas" / f"{action}{'Response' if response else 'Request'}.json"
        )
    schema = json.loads(path.read_text(encoding="utf-8-sig"))
    # use_default=False: otherwise validation writes schema defaults into the checked payload.
    return fastjsonschema.compile(schema, use_default=False)


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass
class Session:
    """One WebSocket connection from a charger, and everything it sent."""

    charger_id: str
    protocol: str
    path: str
    authorization: str | None
    ws: ServerConnection
    frames: list[list[Any]] = field(default_factory=list)
    calls: list[tuple[str, Payload]] = field(default_factory=list)
    pending: dict[str, tuple[str, asyncio.Future[list[Any]]]] = field(default_factory=dict)
    # CALLs from the charger not yet answered, now and at most; OCPP allows one at a time.
    outstanding: int = 0
    max_outstanding: int = 0
    # replies to the CALLs sent right behind a reply (FakeCentral.behind_reply)
    behind: list[asyncio.Future[list[Any]]] = field(default_factory=list)

    def actions(self) -> list[str]:
        return [action for action, _ in self.calls]

    def payloads(self, action: str) -> list[Payload]:
        return [payload for a, payload in self.calls if a == action]

    def statuses(self) -> list[tuple[int, str]]:
        """(connector or EVSE id, status) of every StatusNotification, in order."""
        out = []
        for payload in self.payloads("StatusNotification"):
            if self.protocol == "ocpp1.6":
                out.append((payload["connectorId"], payload["status"]))
            else:
                out.append((payload["evseId"], payload["connectorStatus"]))
        return out


class FakeCentral:
    """Use as `async with FakeCentral() as central:`; chargers connect to `central.url`."""

    def __init__(self) -> None:
        self.sessions: list[Session] = []
        self.invalid: list[str] = []
        self.checked = 0
        self.boot_status = "Accepted"
        self.heartbeat_interval = 60
        self.reject_http: HTTPStatus | None = None
        self.replies: dict[str, Reply] = {}
        self.errors: dict[str, str] = {}  # action -> CALLERROR code to answer with
        self.reply_delay = 0.0
        # action -> a CALL (action, payload) sent right behind the reply to it, unawaited
        self.behind_reply: dict[str, Callable[[Payload], tuple[str, Payload]]] = {}
        self.http_attempts = 0
        self._tx_ids = itertools.count(42)
        self._msg_ids = itertools.count(1)
        self._server: Server | None = None

    async def __aenter__(self) -> FakeCentral:
        self._server = await serve(
            self._handle,
            "127.0.0.1",
            0,
            subprotocols=[Subprotocol("ocpp1.6"), Subprotocol("ocpp2.0.1")],
            process_request=self._process_request,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = next(iter(self._server.sockets)).getsockname()[1]
        return f"ws://127.0.0.1:{port}/ocpp"

    def session(self, charger_id: str, index: int = -1) -> Session:
        """The latest (or index-th) connection of a charger."""
        return [s for s in self.sessions if s.charger_id == charger_id][index]

    def payloads(self, charger_id: str, action: str) -> list[Payload]:
        """Every `action` CALL a charger sent, over all its connections, in order."""
        return [p for s in self.sessions if s.charger_id == charger_id for p in s.payloads(action)]

    async def call(
        self,
        charger_id: str,
        action: str,
        payload: Payload,
        timeout: float = 5.0,
        check: bool = True,
    ) -> list[Any]:
        """Send a CALL to the charger's latest connection; returns the reply frame."""
        session = self.session(charger_id)
        if check:
            self._check(session.protocol, action, False, payload, "central")
        future = await self._send_call(session, action, payload)
        async with asyncio.timeout(timeout):
            return await future

    async def _send_call(
        self, session: Session, action: str, payload: Payload
    ) -> asyncio.Future[list[Any]]:
        msg_id = f"c{next(self._msg_ids)}"
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        session.pending[msg_id] = (action, future)
        await session.ws.send(json.dumps([2, msg_id, action, payload]))
        return future

    async def drop(self, charger_id: str) -> None:
        """Close the charger's latest connection from the server side."""
        await self.session(charger_id).ws.close(1011, "test drop")

    # ------------------------------------------------------------------ internals

    def _process_request(self, ws: ServerConnection, request: Request) -> Response | None:
        self.http_attempts += 1
        if self.reject_http is not None:
            return ws.respond(self.reject_http, "rejected by test\n")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        headers: Headers = ws.request.headers
        session = Session(
            charger_id=ws.request.path.rsplit("/", 1)[-1],
            protocol=ws.subprotocol or "",
            path=ws.request.path,
            authorization=headers.get("Authorization"),
            ws=ws,
        )
        self.sessions.append(session)
        tasks: set[asyncio.Task[None]] = set()
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                if not isinstance(raw, str):  # OCPP-J frames must be text frames
                    self.invalid.append(f"{session.charger_id}: binary frame {raw!r}")
                    raw = raw.decode()
                frame = json.loads(raw)
                session.frames.append(frame)
                if frame[0] == 2:
                    _, msg_id, action, payload = frame
                    session.calls.append((action, payload))
                    session.outstanding += 1
                    session.max_outstanding = max(session.max_outstanding, session.outstanding)
                    self._check(session.protocol, action, False, payload, session.charger_id)
                    # Answered from a task so a charger that does not wait would be caught.
                    task = asyncio.create_task(self._answer(session, msg_id, action, payload))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                elif frame[0] in (3, 4):
                    action, future = session.pending.pop(frame[1])
                    if frame[0] == 3:
                        self._check(session.protocol, action, True, frame[2], session.charger_id)
                    elif not (len(frame) == 5 and isinstance(frame[2], str)):
                        self.invalid.append(f"{session.charger_id}: malformed CALLERROR {frame}")
                    future.set_result(frame)
                else:
                    self.invalid.append(f"{session.charger_id}: unknown frame {frame}")

    async def _answer(self, session: Session, msg_id: str, action: str, payload: Payload) -> None:
        if self.reply_delay:
            await asyncio.sleep(self.reply_delay)
        session.outstanding -= 1
        if action in self.errors:
            frame: list[Any] = [4, msg_id, self.errors[action], "scripted", {}]
        else:
            reply = self._reply(session, action, payload)
            self._check(session.protocol, action, True, reply, "central")
            frame = [3, msg_id, reply]
        with contextlib.suppress(ConnectionClosed):
            await session.ws.send(json.dumps(frame))
            if action in self.behind_reply and frame[0] == 3:
                session.behind.append(
                    await self._send_call(session, *self.behind_reply[action](frame[2]))
                )

    def _check(self, protocol: str, action: str, response: bool, payload: Any, who: str) -> None:
        kind = "response" if response else "request"
        try:
            validator(protocol, action, response)(payload)
        except (fastjsonschema.JsonSchemaException, FileNotFoundError) as exc:
            self.invalid.append(f"{who}: {protocol} {action} {kind} {payload}: {exc}")
        if who != "central":
            self.checked += 1

    def _reply(self, session: Session, action: str, payload: Payload) -> Payload:
        scripted = self.replies.get(action)
        if callable(scripted):
            return scripted(session, payload)
        if scripted is not None:
            return scripted
        if action == "BootNotification":
            return {
                "status": self.boot_status,
                "currentTime": now(),
                "interval": self.heartbeat_interval,
            }
        if action == "Heartbeat":
            return {"currentTime": now()}
        if action == "StartTransaction":
            return {"transactionId": next(self._tx_ids), "idTagInfo": {"status": "Accepted"}}
        if action == "SignCertificate":
            return {"status": "Accepted"}
        return {}


async def eventually(predicate: Callable[[], object], timeout: float = 5.0) -> None:
    """Wait until predicate() is true, polling; fails the test after `timeout` seconds."""
    async with asyncio.timeout(timeout):
        # Polling keeps the simulator free of test hooks; 10 ms is cheap enough.
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
