"""Running a long-lived process: the event loop and stopping on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from typing import Any


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
