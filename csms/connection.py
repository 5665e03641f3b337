"""One charger's WebSocket: frames in and out, the store written before an answer, and CALLs
from the central system. What to answer is decided in csms/protocol.py.

Messages are handled one at a time and in order, from the transport's read itself: a message
that needs only the store is answered from the store's completion, with no task per message.
A token lookup, a token's transaction record, or an answer the charger is not reading yet
runs in a task of its own; messages read meanwhile wait their turn."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Coroutine, Sequence
from functools import partial
from typing import Any, Protocol

from csms import metrics
from csms.authorization import RunningChange, TokenState
from csms.protocol import TRANSACTIONAL, Action, ChargerProtocol, Lookup, Send, Settle, Store
from csms.session import Session
from csms.store import Fenced, Submit, written
from csms.transport import Closed, Socket
from shared import framing
from shared.framing import CallError, CallResult
from shared.ids import token_uid

log = logging.getLogger(__name__)

# The charger's answer to a CALL of ours.
Answer = CallResult | CallError

# A charger has this long to answer a CALL its own message called for.
FOLLOW_UP_TIMEOUT = 30.0

# Messages read while one is being handled, past which the socket stops reading (what
# websockets calls max_queue); reading resumes once all but a few are handled.
BACKLOG_HIGH = 16
BACKLOG_LOW = 4


class Tokens(Protocol):
    """What a connection asks of the token store (csms.authorization.TokenReader)."""

    async def lookup(self, token_id: str, charger_id: str) -> TokenState: ...

    async def record(self, changes: Sequence[RunningChange]) -> None: ...


class ChargerOffline(Exception):
    """The charger's connection closed before it answered.

    `sent` says whether the CALL went out; one that did not may be tried on a newer connection.
    """

    def __init__(self, sent: bool) -> None:
        super().__init__("the charger's connection is closed")
        self.sent = sent


class ChargerConnection:
    def __init__(
        self,
        ws: Socket,
        protocol: ChargerProtocol,
        store: Submit,
        taking_calls: Callable[[], bool],
        tokens: Tokens | None = None,
        spawn: Callable[[Coroutine[Any, Any, None]], object] | None = None,
    ) -> None:
        self.ws = ws
        self.protocol = protocol
        self._store = store
        self._taking_calls = taking_calls
        self._tokens = tokens
        self._spawn = spawn
        self.closed = False
        self._busy = False  # a message is being handled; those read meanwhile wait in order
        self._backlog: deque[str | bytes] | None = None  # made when needed: ~0.6 KiB each
        self._task: asyncio.Task[None] | None = None  # the slow path's, while it runs
        self._pending: dict[str, asyncio.Future[Answer]] = {}
        self._triggers: dict[str, dict[str, Any]] = {}  # pending TriggerMessage CALLs' payloads
        # One CALL outstanding at a time: who holds the turn, and who waits for it (made when
        # needed). An asyncio.Lock could not be taken outside a task, and was one more object
        # per idle connection for the cycle collector.
        self._calling = False
        self._turns: deque[asyncio.Future[None]] | None = None
        # answers taken the moment they are read (call_now), by message id; made when needed
        self._hooks: dict[str, Callable[[Answer], None]] | None = None
        self.queued = 0  # commands waiting for the one outstanding CALL to be answered
        # what until_idle() waits on, made only then: an asyncio.Event costs ~0.9 KiB
        self._idle: asyncio.Future[None] | None = None

    @property
    def session(self) -> Session:
        return self.protocol.session

    @property
    def charger_id(self) -> str:
        return self.protocol.session.charger_id

    async def serve(self) -> None:
        """Handle messages until the connection closes and those read before are handled."""
        ws = self.ws
        ws.listen(self._receive)
        try:
            await ws.wait_closed()
            # what the charger sent before it left is still handled (stored, not answered)
            while self._busy or self._backlog:
                if self._busy:
                    await self.until_idle()
                else:
                    self._release()  # read while one was in hand, left when it failed
        finally:
            self.abandon()

    def abandon(self) -> None:
        """Serve no more: commands' CALLs still awaiting an answer end with ChargerOffline."""
        self.closed = True
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(ChargerOffline(sent=True))

    def awaiting(self) -> list[asyncio.Future[Answer]]:
        """The answers our CALLs (commands) wait for."""
        return list(self._pending.values())

    def _receive(self, data: str | bytes) -> None:
        """A message as the transport reads it."""
        if self._pending and self._answered(data):
            return
        if self._busy:
            backlog = self._backlog
            if backlog is None:
                backlog = self._backlog = deque()
            backlog.append(data)
            if len(backlog) >= BACKLOG_HIGH:
                self.ws.pause_reading()
            return
        self._handle(data)

    def _handle(self, data: str | bytes) -> None:
        action = self.protocol.receive(data, time.time(), self._taking_calls())
        kind = type(action)
        if (kind is Store or kind is Lookup) and self._left_before_answer(action):  # type: ignore[arg-type]
            return
        if kind is Store:
            store: Store = action  # type: ignore[assignment]
            if not store.running and store.then is None:
                then = partial(self._stored, store)
                if self._store(
                    self.charger_id, store.fields, store.events, then, self._fence(store)
                ):
                    self._hold()  # until then() is called, always later
                else:  # nothing to write
                    self._write(self._outcome(store, True))
                return
        elif kind is Send:
            self._write(action.frame)  # type: ignore[union-attr]
            return
        elif kind is Settle:
            self._settle(action)  # type: ignore[arg-type]
            return
        if action is not None:  # a token lookup, or a store with more to do after it
            self._hold()
            self._task = asyncio.get_running_loop().create_task(self._slowly(action))

    def _superseded(self) -> None:
        """A write of this connection was fenced off: the registry names a newer one. Closed,
        as that one's node will have it closed anyway; and should the registry have lost this
        connection instead (Redis back from an older file), the charger reconnects and is
        current again rather than refused every transaction."""
        if self._spawn is not None:
            self._spawn(self.close(1000, "replaced by a newer connection"))

    def _fence(self, store: Store) -> str:
        """A transaction's message is refused once this connection is replaced (csms/store.py)."""
        return self.session.generation if store.before is not None else ""

    def _left_before_answer(self, action: Store | Lookup) -> bool:
        """Whether the charger left with a transaction's message unanswered: it sends that
        again on its next connection, which must find it not stored (else it would be taken
        for a new one, or written over the newer connection's state)."""
        if self.ws.open or action.call.action not in TRANSACTIONAL:
            return False
        if isinstance(action, Store):
            self.protocol.not_stored(action)  # the session as the message found it
        return True

    @property
    def busy(self) -> bool:
        """A CALL is being stored and answered."""
        return self._busy

    async def until_idle(self) -> None:
        """Until no CALL is being stored and answered."""
        while self._busy:
            if self._idle is None:
                self._idle = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._idle)  # one waiter giving up leaves the others waiting

    def _hold(self) -> None:
        self._busy = True

    def _release(self) -> None:
        """The message in hand is done: on to those read meanwhile."""
        self._busy = False
        idle, self._idle = self._idle, None
        if idle is not None and not idle.done():
            idle.set_result(None)
        backlog = self._backlog
        if backlog is None:
            return
        while backlog and not self._busy:
            data = backlog.popleft()
            try:
                self._handle(data)
            except Exception:  # a bug: that message goes unanswered, the rest are handled
                log.exception("message handling failed", extra={"charger_id": self.charger_id})
        if not backlog:
            self._backlog = None
        if len(backlog) <= BACKLOG_LOW:
            self.ws.resume_reading()

    def _stored(self, store: Store, failed: BaseException | None) -> None:
        self._busy = False
        try:
            self._write(self._outcome(store, failed is None))
        except Exception:  # a bug: this one goes unanswered, the connection carries on
            log.exception("could not answer", extra={"charger_id": self.charger_id})
        if isinstance(failed, Fenced):
            self._superseded()
        if not self._busy:  # else the answer waits for the charger to read, then goes on
            self._release()

    def _outcome(self, store: Store, stored: bool) -> str:
        """The answer to a message once its store is done, counted if it was stored."""
        if not stored:
            # Never acknowledge what is not stored: the charger keeps it and retries.
            return self.protocol.not_stored(store)
        metrics.count_message(self.session.protocol, store.call.action)
        return self.protocol.stored(store)

    def _write(self, frame: str) -> None:
        """Send an answer; one the socket cannot take now is sent before anything else."""
        ws = self.ws
        if ws.send_now(frame) or not ws.open:
            return  # sent, or the charger has gone and the answer with it
        self._hold()
        self._task = asyncio.get_running_loop().create_task(self._slowly(Send(frame)))

    def _settle(self, settle: Settle) -> bool:
        """Hand an answer to the CALL waiting for it; False if none is."""
        answer = settle.answer
        fut = self._pending.get(answer.id)
        if fut is None or fut.done():
            return False
        hook = self._hooks.pop(answer.id, None) if self._hooks else None
        if hook is not None:
            try:
                hook(answer)
            except Exception:  # a bug: the command's task still hears the answer
                log.exception("answer hook failed", extra={"charger_id": self.charger_id})
        asked = self._triggers.pop(answer.id, None)
        if asked is not None and isinstance(answer, CallResult):
            if answer.payload.get("status") == "Accepted":
                # The charger sends what it was asked for right after this answer, maybe in
                # the same read: a pending charger may send it from now on, not from when the
                # command's task next runs.
                self.protocol.accepted_trigger(asked)
        fut.set_result(answer)
        if hook is not None:
            self.end_call(answer.id)  # answered: the next command's CALL may go now
        return True

    async def _slowly(self, action: Action) -> None:
        """A message that waits for more than the store, or an answer that waits for the
        charger to read; what is read meanwhile waits its turn."""
        try:
            if isinstance(action, Lookup):
                found = await self._lookup(action)
                if self._left_before_answer(action):
                    return
                action = self.protocol.resume(action, found, time.time())
            if isinstance(action, Send):
                await self._send(action.frame)
            elif isinstance(action, Store):
                await self._store_and_answer(action)
            elif isinstance(action, Settle):
                self._settle(action)
        except Exception:
            log.exception("message handling failed", extra={"charger_id": self.charger_id})
        finally:
            self._task = None
            self._release()

    async def _lookup(self, lookup: Lookup) -> TokenState | None:
        """The token's state from the store; None if it could not be read."""
        if self._tokens is None:
            return TokenState(token_uid(lookup.token), None)
        try:
            return await self._tokens.lookup(lookup.token, self.charger_id)
        except Exception as exc:
            log.warning(
                "could not read a token",
                extra={"charger_id": self.charger_id, "error": repr(exc)},
            )
            return None

    async def _store_and_answer(self, store: Store) -> None:
        try:
            await written(
                self._store, self.charger_id, store.fields, store.events, self._fence(store)
            )
        except Exception as exc:
            frame = self._outcome(store, False)
            if isinstance(exc, Fenced):
                self._superseded()
        else:
            frame = self._outcome(store, True)
            if store.running:
                await self._record(store.running)
        await self._send(frame)
        if store.then is not None and self._spawn is not None and frame is store.answer:
            # in the background: its answer comes through this very loop
            self._spawn(self._follow_up(*store.then))

    async def _record(self, changes: tuple[RunningChange, ...]) -> None:
        """Registered tokens' transactions began or ended (for ConcurrentTx). The message is
        stored either way: a failure here only leaves a token's marker to its expiry."""
        if self._tokens is None:
            return
        try:
            await self._tokens.record(changes)
        except Exception as exc:
            log.warning(
                "could not record a token's transaction",
                extra={"charger_id": self.charger_id, "error": repr(exc)},
            )

    async def _follow_up(self, action: str, payload: dict[str, Any]) -> None:
        """A CALL a charger's message called for (CertificateSigned after SignCertificate)."""
        try:
            answer = await self.call(action, payload, FOLLOW_UP_TIMEOUT)
        except (TimeoutError, ChargerOffline):
            log.warning("no answer to %s", action, extra={"charger_id": self.charger_id})
            return
        result = answer.payload.get("status") if isinstance(answer, CallResult) else answer.code
        log.info("%s answered %s", action, result, extra={"charger_id": self.charger_id})

    async def _send(self, frame: str) -> None:
        ws = self.ws
        if ws.send_now(frame):
            return
        try:
            await ws.send(frame)  # waits while the charger does not read
        except Closed:
            # The charger has gone; the frames it sent before it left are still read (an answer
            # to one of our CALLs among them), and then the loop ends.
            pass

    async def call(self, action: str, payload: dict[str, Any], timeout: float) -> Answer:
        """Send a CALL and wait for its answer; one at a time per charger, as OCPP requires.

        The timeout covers waiting behind earlier commands too, so the caller hears back in time.
        """
        async with asyncio.timeout(timeout):
            self.queued += 1
            try:
                await self._take_turn()
            finally:
                self.queued -= 1
            try:
                return await self._send_call(action, payload)
            finally:
                self._end_turn()

    def call_now(
        self,
        action: str,
        payload: dict[str, Any],
        answered: Callable[[Answer], None],
    ) -> tuple[str, asyncio.Future[Answer]] | None:
        """Write a CALL in this turn of the loop if nothing is ahead of it (no CALL outstanding,
        the socket taking writes): its message id and answer, else None (use call()).

        `answered` runs with the answer as soon as it is read, a turn of the loop before the
        future's waiter could, and the turn passes on then; end_call(message_id) ends a CALL
        that was not answered (a timeout, the connection closed).
        """
        if self.closed or self.calling:
            return None
        message_id = uuid.uuid4().hex
        if not self.ws.send_now(framing.call(message_id, action, payload)):
            return None
        self._calling = True
        fut = self._expect_answer(message_id, action, payload)
        if self._hooks is None:
            self._hooks = {}
        self._hooks[message_id] = answered
        return message_id, fut

    def _expect_answer(
        self, message_id: str, action: str, payload: dict[str, Any]
    ) -> asyncio.Future[Answer]:
        """The future the answer to this CALL of ours will settle."""
        fut: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._pending[message_id] = fut
        self.ws.prompt = True  # its answer is read at once, not behind others' telemetry
        if action == "TriggerMessage":
            self._triggers[message_id] = payload
        return fut

    def _forget(self, message_id: str) -> bool:
        """Wait no more for the answer to this CALL; False if nothing was waiting for it."""
        pending = self._pending
        if pending.pop(message_id, None) is None:
            return False
        self._triggers.pop(message_id, None)
        if not pending:
            self.ws.prompt = False
        return True

    @property
    def calling(self) -> bool:
        """A CALL of ours is outstanding (or a command has the turn to send one)."""
        return self._calling

    def end_call(self, message_id: str) -> None:
        """The CALL call_now sent is done with: the next command may send its own. Once
        only: its answer, its caller and a guard for a caller that never ran may all say so."""
        if not self._forget(message_id):
            return
        if self._hooks is not None:
            self._hooks.pop(message_id, None)
            if not self._hooks:
                self._hooks = None
        self._end_turn()

    async def _take_turn(self) -> None:
        """Until this caller may send the one outstanding CALL; first come, first served."""
        if not self._calling:
            self._calling = True
            return
        turns = self._turns
        if turns is None:
            turns = self._turns = deque()
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        turns.append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._end_turn()  # handed the turn as it gave up: on to the next
            raise

    def _end_turn(self) -> None:
        turns = self._turns
        while turns:
            turn = turns.popleft()
            if not turn.done():  # else its caller gave up waiting
                turn.set_result(None)  # the turn passes straight on
                return
        self._turns = None
        self._calling = False

    async def _send_call(self, action: str, payload: dict[str, Any]) -> Answer:
        if self.closed:
            raise ChargerOffline(sent=False)
        message_id = uuid.uuid4().hex
        fut = self._expect_answer(message_id, action, payload)
        try:
            try:
                await self.ws.send(framing.call(message_id, action, payload))
            except Closed:
                raise ChargerOffline(sent=False) from None
            return await fut
        finally:
            self._forget(message_id)

    def _answered(self, data: str | bytes) -> bool:
        """The answer to a CALL of ours, taken as it is read rather than behind the charger's
        queued messages: a command waits for no telemetry. Anything else is left in order."""
        head = data[:12].lstrip(b"[ \t\r\n" if isinstance(data, bytes) else "[ \t\r\n")  # type: ignore[arg-type]
        if head[:1] not in (b"3", b"4", "3", "4"):
            return False
        action = self.protocol.receive(data, time.time())
        return isinstance(action, Settle) and self._settle(action)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self.ws.close(code, reason)
