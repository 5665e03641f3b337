"""Running a long-lived process: the event loop, one shape for starting and stopping a
service, stopping on SIGTERM/SIGINT, cancelling tasks for sure, and a heap settled after
start-up whose collections are timed."""

from __future__ import annotations

import asyncio
import gc
import signal
import time
from collections.abc import Coroutine
from contextlib import AsyncExitStack
from typing import Any, Self

from prometheus_client import Histogram

GC_PAUSES = Histogram(
    "evcs_gc_pause_seconds",
    "Stops of the whole process for Python's cycle collector, by generation",
    ["generation"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)


def run(main: Coroutine[Any, Any, Any]) -> None:
    """Run `main` on uvloop where available."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
        return
    uvloop.run(main)


async def wait_for_signal() -> None:
    """Return when SIGTERM or SIGINT arrives."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def spawn(tasks: set[asyncio.Task[Any]], coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    """Run `coro` in a task held in `tasks` until it ends: the loop keeps only a weak reference
    to a task, and one nobody else holds can be collected mid-flight."""
    task = asyncio.get_running_loop().create_task(coro)
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    return task


async def cancel(*tasks: asyncio.Task[Any] | None) -> None:
    """Cancel the tasks and wait until each has ended.

    A task that carries on after a cancel is cancelled again: on Python 3.11, asyncio.wait_for
    (which redis-py awaits for every command it writes) can swallow a cancellation that lands
    just as its inner future completes (CPython gh-86296), and the task runs on."""
    alive = {t for t in tasks if t is not None and not t.done()}
    while alive:
        for task in alive:
            task.cancel()
        _, alive = await asyncio.wait(alive, timeout=0.1)
    await asyncio.gather(*(t for t in tasks if t is not None), return_exceptions=True)


class Service:
    """A process's parts, started in order and stopped in reverse: `start()` fills an
    AsyncExitStack (what it registers undoes each part), `stop()` unwinds it. A service is
    also an async context manager, and `serve()` runs one until a signal."""

    def __init__(self) -> None:
        self._stack: AsyncExitStack | None = None

    async def _start(self, stack: AsyncExitStack) -> None:
        """Start the parts, registering how to stop each on `stack`."""
        raise NotImplementedError

    async def start(self) -> None:
        async with AsyncExitStack() as stack:  # a part that fails to start undoes the others
            await self._start(stack)
            self._stack = stack.pop_all()

    async def stop(self) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()

    async def ended(self) -> None:
        """Return (or raise) when the service ends by itself; most run until stopped."""
        await asyncio.Event().wait()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def settle_heap() -> None:
    """Keep what start-up built (modules, compiled schemas: most of a fresh process's objects)
    out of every later collection, and collect the young generation less often.

    A full collection walks every tracked object with the event loop stopped: over a fresh
    csms's ~70,000 start-up objects that is tens of milliseconds, the tail of every latency
    figure. Frozen objects are still freed by reference counting; only cycles among them stay.
    Every collection from then on is timed (evcs_gc_pause_seconds)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 10, 10)
    if not any(isinstance(callback, PauseTimer) for callback in gc.callbacks):
        gc.callbacks.append(PauseTimer())


class PauseTimer:
    """Times each collection into GC_PAUSES (a gc.callbacks entry): every connection the
    process holds waits that long, so it is the first thing to look at in a latency spike."""

    def __init__(self) -> None:
        self._started = 0.0
        self._by_generation = [GC_PAUSES.labels(str(g)) for g in range(3)]

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self._by_generation[info["generation"]].observe(time.perf_counter() - self._started)


def serve(service: Service) -> None:
    """Run the service until SIGTERM or SIGINT (or until it ends by itself), then stop it."""

    async def main() -> None:
        async with service:
            settle_heap()
            ended = asyncio.create_task(service.ended())
            signalled = asyncio.create_task(wait_for_signal())
            await asyncio.wait([ended, signalled], return_when=asyncio.FIRST_COMPLETED)
            await cancel(signalled)
            if ended.done():
                ended.result()  # an error that ended it ends the process too
            else:
                await cancel(ended)

    run(main())
