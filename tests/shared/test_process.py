"""The heap of a long-lived process: settled once started, and each of its collections timed."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from shared.process import GC_PAUSES, PauseTimer, settle_heap


def _count(generation: int) -> float:
    value = GC_PAUSES.labels(str(generation)).collect()[0]
    return next(s.value for s in value.samples if s.name.endswith("_count"))


@pytest.fixture
def heap_as_it_was() -> Iterator[None]:
    """Only the test's own collections, and the process's heap as it was afterwards."""
    thresholds = gc.get_threshold()
    callbacks = list(gc.callbacks)
    gc.disable()
    yield
    gc.enable()
    gc.callbacks[:] = callbacks
    gc.set_threshold(*thresholds)
    gc.unfreeze()


def test_each_collection_is_timed_under_its_generation(heap_as_it_was: None) -> None:
    gc.callbacks.append(PauseTimer())
    before = [_count(g) for g in range(3)]
    gc.collect(2)
    gc.collect(0)
    assert [_count(g) - b for g, b in zip(range(3), before, strict=True)] == [1, 0, 1]


def test_a_heap_settled_twice_times_each_collection_once(heap_as_it_was: None) -> None:
    settle_heap()
    settle_heap()
    assert sum(isinstance(c, PauseTimer) for c in gc.callbacks) == 1
    before = _count(2)
    gc.collect(2)
    assert _count(2) == before + 1
