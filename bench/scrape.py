"""A running process's Prometheus metrics, read from its operations port (EVCS_OPS_PORT)."""

from __future__ import annotations

import time
import urllib.request


def metric_total(port: int, prefix: str) -> float | None:
    """The sum of the samples whose lines start with `prefix` (a name, or a name and `{`);
    None if the process does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
    except OSError:
        return None
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix)
    )


def gc_seconds(port: int, timeout: float = 30.0) -> float:
    """Seconds the process has stood still for garbage collection since it started
    (evcs_gc_pause_seconds); its operations port may open just after its main one."""
    deadline = time.monotonic() + timeout
    while (total := metric_total(port, "evcs_gc_pause_seconds_sum")) is None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the process on operations port {port} does not answer")
        time.sleep(0.1)
    return total
