"""Sample a reading in a background thread while a blocking run goes on; keep the peak."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Peak:
    def __init__(self, probe: Callable[[], float], interval: float = 0.1) -> None:
        self.probe = probe
        self.interval = interval
        self.peak = probe()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.wait(self.interval):
            self.peak = max(self.peak, self.probe())

    def __enter__(self) -> Peak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()
