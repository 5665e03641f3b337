"""Run load in worker processes and collect one result from each; a worker that dies is an
error at once, not a long wait."""

from __future__ import annotations

import multiprocessing as mp
import queue
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

R = TypeVar("R")
S = TypeVar("S")


def _entry(main: Callable[[S], Coroutine[Any, Any, R]], spec: S, out: mp.Queue[Any]) -> None:
    try:
        import uvloop

        out.put(uvloop.run(main(spec)))
    except BaseException as exc:  # the parent must hear of it rather than wait
        out.put(f"load worker failed: {exc!r}")
        raise


def run_in_processes(
    main: Callable[[S], Coroutine[Any, Any, R]], specs: list[S], timeout: float
) -> list[R]:
    """`main(spec)` in one spawned process per spec; their results in any order."""
    ctx = mp.get_context("spawn")
    out: mp.Queue[Any] = ctx.Queue()
    procs = [ctx.Process(target=_entry, args=(main, spec, out), daemon=True) for spec in specs]
    for p in procs:
        p.start()
    got: list[Any] = []
    deadline = time.monotonic() + timeout
    while len(got) < len(procs):
        try:
            got.append(out.get(timeout=0.5))
        except queue.Empty:
            dead = [p for p in procs if p.exitcode not in (None, 0)]
            if dead and out.empty():
                raise RuntimeError(f"{len(dead)} load worker(s) died") from None
            if time.monotonic() > deadline:
                raise TimeoutError("load workers did not report in time") from None
    for p in procs:
        p.join(timeout=10)
    failures = [g for g in got if isinstance(g, str)]
    if failures:
        raise RuntimeError("; ".join(failures))
    return got
