"""Writes to Redis, coalesced across connections: every message's hash fields and stream
events join the next batch, and the message is answered only once its events are in.

A batch goes out as one write per Redis primary, all at once, each down a lane to that server
(shared.redis_lane), where hiredis packs the batch and parses its replies without redis-py's
per-command pipeline bookkeeping; over TLS, as a redis-py pipeline per primary.
An event that could not be written fails its message, which the charger then sends again.
The event is what a charger's acknowledgement vouches for; the hash is the latest state, so a
hash write that fails while the message's events went in is not answered with an error (the
retry would store the events twice) but written again with the next batch. MOVED, ASK and
TRYAGAIN (a slot moving during resharding, a replica promoted after a failover) are followed:
a redirected command was not carried out, so sending it again stores it once.

On a single server, a transaction's message that marks what a resend would repeat is fenced:
its events and fields go in one script that refuses them once a newer connection of the
charger has attached (anywhere), so a resend on that connection never meets a write of the old
one landing late. A cluster keeps the hash and the stream on different primaries, where one
script cannot reach both (docs/reliability.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from itertools import chain
from typing import Any

import orjson
from redis.exceptions import AskError, MovedError, TryAgainError

from csms.metrics import REDIS_ERRORS, UNREPLICATED
from shared import events as ev
from shared.process import spawn
from shared.redis_batch import Pipelined, reread_soon
from shared.redis_client import UNAVAILABLE
from shared.redis_keys import F, Keys
from shared.redis_lane import Lanes

log = logging.getLogger(__name__)

# Redirect rounds before a command counts as failed. A redirect names the node to ask next;
# from the second round on (a slot in the middle of a move answers ASK, MOVED or TRYAGAIN
# until the move is done) a pause that doubles from 10 ms comes first: a message waits up to
# about 1.3 s for a move to finish.
MAX_REDIRECTS = 8
REDIRECT_PAUSE = 0.01
# A hash write that failed is tried again this soon even when no new message comes.
RETRY_FIELDS_AFTER = 0.5

# Told how a write ended: None once it is in, else why it is not.
Then = Callable[[BaseException | None], None]


# StateWriter.submit: queue a charger's hash fields and events, call back once they are in or
# not; False, with no call back, when there is nothing to write. The last argument fences the
# write with the connection's generation ("" for none).
Submit = Callable[[str, dict[str, str] | None, list[ev.Event], Then, str], bool]

# KEYS: the charger's hash, its stream; ARGV: the generation the write belongs to, the number
# of fields, the fields' names and values, the events. Refused (0) unless the generation is
# still the charger's; the events go in before the fields, as in a batch.
_FENCED = f"""
if redis.call('HGET', KEYS[1], '{F.GENERATION}') ~= ARGV[1] then return 0 end
local n = tonumber(ARGV[2])
for i = 3 + 2 * n, #ARGV do redis.call('XADD', KEYS[2], '*', '{ev.FIELD}', ARGV[i]) end
if n > 0 then redis.call('HSET', KEYS[1], unpack(ARGV, 3, 2 + 2 * n)) end
redis.call('HINCRBY', KEYS[1], '{F.TX_VERSION}', 1)
return 1
"""


class Fenced(Exception):
    """A newer connection of the charger attached: this write of an older one is refused."""


def _settle(fut: asyncio.Future[None], failed: BaseException | None) -> None:
    """A `Then` that ends a future (left alone if its waiter went away)."""
    if fut.done():
        return
    if failed is None:
        fut.set_result(None)
    else:
        fut.set_exception(failed)


async def written(
    submit: Submit,
    charger_id: str,
    fields: dict[str, str] | None,
    events: list[ev.Event],
    fence: str = "",
) -> None:
    """Submit and wait: return once they are in, raise what kept them out."""
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    if submit(charger_id, fields, events, partial(_settle, done), fence):
        await done


@dataclass(slots=True)
class _Write:
    charger_id: str
    fields: dict[str, str] | None
    events: list[ev.Event]
    then: Then | None  # None: a hash rewrite nobody waits for
    failed: BaseException | None = None
    newer: dict[str, str] | None = None  # a rewrite's: fields the charger's later writes set
    # a rewrite's: fields a later fenced write sets, never written again by anyone else (it
    # lands after the rewrite on a single server, or is refused)
    fenced_later: set[str] | None = None
    hash_failed: bool = False  # a message's hash write failed: written again if its events are in
    fence: str = ""  # the connection's generation: refused once it is no longer the charger's

    def followed_by(self, fields: dict[str, str], fenced: bool) -> None:
        """A rewrite: the charger's later write sets `fields`."""
        if fenced:
            self.fenced_later = (self.fenced_later or set()) | fields.keys()
            if self.newer:
                self.newer = {k: v for k, v in self.newer.items() if k not in fields}
        else:
            self.newer = {**(self.newer or {}), **fields}
            if self.fenced_later:
                self.fenced_later -= fields.keys()


@dataclass(slots=True)
class _Command:
    write: _Write
    key: str
    args: tuple[Any, ...]
    is_event: bool
    target: tuple[str, int] | None = None  # where a redirect said to go; else the slot map's
    asking: bool = False  # an ASK redirect: ASKING goes first
    fenced: bool = False  # the _FENCED script: 0 means refused


@dataclass(slots=True)
class _Replication:
    """WAIT after each primary's writes: answer only once `replicas` have them (or the timeout
    passed; docs/reliability.md says what each choice loses)."""

    replicas: int = 0
    timeout_ms: int = 100
    unreplicated: int = field(default=0)


class StateWriter:
    """Batches HSET + XADD from many chargers into few pipelined round trips."""

    def __init__(
        self,
        r: Any,
        keys: Keys,
        max_inflight: int = 4,
        wait_replicas: int = 0,
        wait_timeout_ms: int = 100,
        lane: Pipelined | None = None,
        lanes: Lanes | None = None,
    ) -> None:
        self._redis = r
        self._lane = lane  # every batch down this one (a single server's)
        self._lanes = lanes  # else each primary's, where a lane can serve it; else pipelines
        self._keys = keys
        self._pending: list[_Write] = []
        self._inflight = 0
        self._max_inflight = max_inflight
        self._tasks: set[asyncio.Task[None]] = set()
        self._replication = _Replication(wait_replicas, wait_timeout_ms)
        # charger -> hash fields whose write failed after the message's events went in
        self._unwritten: dict[str, dict[str, str]] = {}
        self._rewriting: dict[str, list[_Write]] = {}  # charger -> its rewrites in flight
        self._retry_timer: asyncio.TimerHandle | None = None
        self._retry_due = False
        self.batches = 0
        self.writes = 0

    async def write(
        self, charger_id: str, fields: dict[str, str] | None, events: list[ev.Event]
    ) -> None:
        """Return once the events (and, unless it can wait, the fields) are in Redis; raise if
        they could not be written."""
        await written(self.submit, charger_id, fields, events)

    def submit(
        self,
        charger_id: str,
        fields: dict[str, str] | None,
        events: list[ev.Event],
        then: Then,
        fence: str = "",
    ) -> bool:
        """Queue them for the next batch and call `then` once the batch is done (always later,
        never from here); False, and no call, when there is nothing to write. A callback
        rather than a future: a future's callback costs the loop a handle per message. A
        `fence` (a connection's generation) refuses them once that connection is replaced."""
        if not fields and not events:
            return False
        if self._rewriting and fields:
            fenced = self._fences(fields, fence)
            for rewrite in self._rewriting.get(charger_id, ()):
                rewrite.followed_by(fields, fenced)
        self._pending.append(_Write(charger_id, fields, events, then, fence=fence))
        self._kick()
        return True

    def _kick(self) -> None:
        if self._inflight < self._max_inflight:
            self._inflight += 1
            asyncio.get_running_loop().call_soon(self._start_flush)

    def _start_flush(self) -> None:
        spawn(self._tasks, self._flush())

    async def _flush(self) -> None:
        try:
            while self._pending or self._retry_due:
                self._retry_due = False
                batch, self._pending = self._pending, []
                await self._execute(self._with_unwritten(batch))
        finally:
            self._inflight -= 1

    def _with_unwritten(self, batch: list[_Write]) -> list[_Write]:
        """Hash fields that failed before, written again ahead of the batch's newer ones: as
        writes of their own, so that a message of the batch that fails cannot take them along."""
        if not self._unwritten:
            return batch
        unwritten, self._unwritten = self._unwritten, {}
        rewrites = {cp: _Write(cp, fields, [], None) for cp, fields in unwritten.items()}
        for w in batch:
            if w.fields and w.charger_id in rewrites:
                rewrites[w.charger_id].followed_by(w.fields, self._fences(w.fields, w.fence))
        for cp, rewrite in rewrites.items():
            self._rewriting.setdefault(cp, []).append(rewrite)
        return [*rewrites.values(), *batch]  # one key's commands keep their order in a pipeline

    async def _execute(self, batch: list[_Write]) -> None:
        try:
            await self._write(batch)
        except Exception as exc:  # a bug: the batch's writes fail, and every caller hears
            log.exception("state write failed")
            for w in batch:
                w.failed = w.failed or exc
        self._settle(batch)

    async def _write(self, batch: list[_Write]) -> None:
        keys = self._keys
        todo: list[_Command] = []
        # On a cluster the hash and the stream live on different primaries: the hash of a
        # message that marks what a resend would repeat goes only once its events are in.
        after_events: list[_Write] = []
        for w in batch:
            try:
                encoded = [orjson.dumps(event) for event in w.events]
            except orjson.JSONEncodeError as exc:
                # what orjson read it cannot always write (nesting past 254 levels, in a
                # charger's customData): that message is not stored, the batch goes on
                w.failed = exc
                continue
            if w.fields and self._fences(w.fields, w.fence):
                todo.append(self._fenced_command(w, encoded))
                continue
            if w.fields:
                if encoded and self._redis.sharded and _marks_repeats(w.fields):
                    after_events.append(w)
                else:
                    todo.append(self._hset(w))
            if encoded:
                stream = keys.stream_for(w.charger_id)
                for data in encoded:
                    todo.append(_Command(w, stream, ("XADD", stream, "*", ev.FIELD, data), True))
        await self._rounds(todo)
        if after_events:
            await self._rounds([self._hset(w) for w in after_events if w.failed is None])

    def _fences(self, fields: dict[str, str], fence: str) -> bool:
        """Whether a write of these fields goes through _FENCED."""
        return bool(fence) and not self._redis.sharded and _marks_repeats(fields)

    def _fenced_command(self, w: _Write, encoded: list[bytes]) -> _Command:
        key = self._keys.charger(w.charger_id)
        fields = w.fields or {}
        stream = self._keys.stream_for(w.charger_id)
        args = ("EVAL", _FENCED, 2, key, stream, w.fence, len(fields), *chain(*fields.items()))
        return _Command(w, key, (*args, *encoded), True, fenced=True)

    def _hset(self, w: _Write) -> _Command:
        key = self._keys.charger(w.charger_id)
        assert w.fields
        return _Command(w, key, ("HSET", key, *chain(*w.fields.items())), False)

    async def _rounds(self, todo: list[_Command]) -> None:
        """Send the commands, following redirects for up to MAX_REDIRECTS rounds."""
        for round_ in range(MAX_REDIRECTS):
            todo = await self._send(todo)
            if not todo:
                break
            if round_:
                await asyncio.sleep(REDIRECT_PAUSE * 2**round_)
        for command in todo:  # still redirected after every round
            self._fail(command, TryAgainError("the slot kept moving"))

    async def _send(self, commands: list[_Command]) -> list[_Command]:
        """Send the commands, one pipeline per primary; return those to send again."""
        groups: dict[int, tuple[Any, list[_Command]]] = {}
        r = self._redis
        for command in commands:
            try:
                client = (
                    r.client_at(*command.target) if command.target else r.node_client(command.key)
                )
            except UNAVAILABLE as exc:  # a slot with no owner
                self._fail(command, exc)
                continue
            groups.setdefault(id(client), (client, []))[1].append(command)
        if len(groups) == 1:  # one server: no task per batch for gather() to wrap it in
            [(client, group)] = groups.values()
            return await self._send_to(client, group)
        again = await asyncio.gather(*(self._send_to(c, group) for c, group in groups.values()))
        return list(chain.from_iterable(again))

    async def _send_to(self, client: Any, commands: list[_Command]) -> list[_Command]:
        waiting = self._replication.replicas
        lane = self._lane
        if lane is None and self._lanes is not None:
            lane = self._lanes.of(client)
        try:
            if lane is not None:
                batch: list[tuple[Any, ...]] = []
                for command in commands:
                    if command.asking:
                        batch.append(("ASKING",))
                    batch.append(command.args)
                if waiting:
                    batch.append(("WAIT", waiting, self._replication.timeout_ms))
                results = await lane.execute(batch)
            else:
                pipe = client.pipeline(transaction=False)
                for command in commands:
                    if command.asking:
                        pipe.execute_command("ASKING")
                    pipe.execute_command(*command.args)
                if waiting:
                    pipe.execute_command("WAIT", waiting, self._replication.timeout_ms)
                results = await pipe.execute(raise_on_error=False)
        except Exception as exc:  # the node is lost: none of these is known to be in
            for command in commands:
                self._fail(command, exc)
            if self._redis.sharded:
                self._spawn_refresh()
            return []
        if waiting:
            acked = results.pop()
            if isinstance(acked, int) and acked < waiting:
                self._replication.unreplicated += len(commands)
                UNREPLICATED.inc(len(commands))
        if any(c.asking for c in commands):
            results = _without_asking(commands, results)
        again: list[_Command] = []
        for command, result in zip(commands, results, strict=True):
            if isinstance(result, AskError):  # MOVED too: the slot's (new) owner, by address
                command.target = result.node_addr
                command.asking = not isinstance(result, MovedError)
                again.append(command)
            elif isinstance(result, TryAgainError):
                again.append(command)
            elif isinstance(result, Exception):
                self._fail(command, result)
            elif command.fenced and not result:
                self._fail(command, Fenced("a newer connection of the charger attached"))
        if self._redis.sharded and any(c.target and not c.asking for c in again):
            self._spawn_refresh()  # a slot moved for good: later batches go there directly
        return again

    def _fail(self, command: _Command, exc: BaseException) -> None:
        w = command.write
        if command.is_event or not w.events or w.then is None:
            w.failed = w.failed or exc
        else:  # the hash: written again if the events went in, the message then stands
            w.hash_failed = True

    def _keep(self, charger_id: str, fields: dict[str, str]) -> None:
        """Hold hash fields for the next batch: newer than any held for the charger."""
        self._unwritten[charger_id] = {**self._unwritten.get(charger_id, {}), **fields}

    def _rewritten(self, rewrite: _Write) -> None:
        """A rewrite ended. What the charger's messages set meanwhile is newer: a failed
        rewrite keeps only the other fields, and those newer ones are written again, as they
        may have landed first (a cluster's pipelines keep no order between batches)."""
        in_flight = self._rewriting[rewrite.charger_id]
        in_flight.remove(rewrite)
        if not in_flight:
            del self._rewriting[rewrite.charger_id]
        kept = {} if rewrite.failed is None else dict(rewrite.fields or {})
        for name in rewrite.fenced_later or ():
            kept.pop(name, None)
        kept.update(rewrite.newer or {})
        if kept:
            self._keep(rewrite.charger_id, kept)

    def _settle(self, batch: list[_Write]) -> None:
        failures = [w for w in batch if w.failed is not None]
        if failures:  # most batches have none: no call for them
            failures = _not_fenced(failures)
        if failures:
            log.warning(
                "redis write failed",
                extra={
                    "batch": len(batch),
                    "failed": len(failures),
                    "error": repr(failures[0].failed),
                },
            )
            REDIS_ERRORS.inc()
        for w in batch:
            if w.then is None:
                self._rewritten(w)
                continue
            if w.hash_failed and w.failed is None and w.fields:
                # Its events are in: the message stands, its hash is written again. Had they
                # failed too, the charger sends it again, and a hash that said it was done
                # (a stop's "ended") would have it taken for a repeat and dropped.
                self._keep(w.charger_id, w.fields)
            try:
                w.then(w.failed)
            except Exception:  # a bug in one caller: the rest of the batch still hears
                log.exception("write callback failed", extra={"charger_id": w.charger_id})
        self.batches += 1
        self.writes += len(batch)
        if self._unwritten:
            self._schedule_retry()

    def _schedule_retry(self) -> None:
        if self._retry_timer is None:
            loop = asyncio.get_running_loop()
            self._retry_timer = loop.call_later(RETRY_FIELDS_AFTER, self._retry)

    def _retry(self) -> None:
        self._retry_timer = None
        if self._unwritten:
            self._retry_due = True
            self._kick()

    def _spawn_refresh(self) -> None:
        reread_soon(self._redis, self._lanes, self._tasks)


def _not_fenced(failed: list[_Write]) -> list[_Write]:
    """The writes Redis failed; those fenced off are logged apart (their chargers moved on)."""
    for w in failed:
        if isinstance(w.failed, Fenced):
            log.info("write of a replaced connection refused", extra={"charger_id": w.charger_id})
    return [w for w in failed if not isinstance(w.failed, Fenced)]


def _marks_repeats(fields: dict[str, str]) -> bool:
    """Whether the fields are what a resend of the message would be judged a repeat by."""
    if F.ENDED in fields:
        return True
    # a loop rather than any(): every 2.0.1 TransactionEvent asks, and a generator costs twice
    for name in fields:
        if name.startswith(F.TX_START):
            return True
    return False


def _without_asking(commands: list[_Command], results: list[Any]) -> list[Any]:
    """Drop the ASKING replies that precede redirected commands."""
    out: list[Any] = []
    it = iter(results)
    for command in commands:
        if command.asking:
            next(it)
        out.append(next(it))
    return out
