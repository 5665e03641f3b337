"""A running process's Prometheus metrics, read from its operations port (EVCS_OPS_PORT)."""

from __future__ import annotations

import re
import time
import urllib.request

# A histogram's cumulative buckets, by the value of one label: [(upper bound, count), ...]
Buckets = dict[str, list[tuple[float, float]]]

_LABEL = re.compile(r'(\w+)="([^"]*)"')


def _metrics(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            return str(resp.read().decode())
    except OSError:
        return None


def metric_total(port: int, prefix: str) -> float | None:
    """The sum of the samples whose lines start with `prefix` (a name, or a name and `{`);
    None if the process does not answer."""
    text = _metrics(port)
    if text is None:
        return None
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix)
    )


def histogram(port: int, name: str, label: str) -> Buckets | None:
    """Histogram `name`'s buckets by `label`; None if the process does not answer."""
    text = _metrics(port)
    return None if text is None else parse_histogram(text, name, label)


def parse_histogram(text: str, name: str, label: str) -> Buckets:
    """Histogram `name`'s buckets by `label`, from the Prometheus text format."""
    prefix = f"{name}_bucket{{"
    found: Buckets = {}
    for line in text.splitlines():
        if not line.startswith(prefix):
            continue
        labels, _, count = line[len(prefix) :].rpartition("} ")
        pairs = dict(_LABEL.findall(labels))
        found.setdefault(pairs.get(label, ""), []).append((float(pairs["le"]), float(count)))
    return found


def gc_seconds(port: int, timeout: float = 30.0) -> float:
    """Seconds the process has stood still for garbage collection since it started
    (evcs_gc_pause_seconds); its operations port may open just after its main one."""
    deadline = time.monotonic() + timeout
    while (total := metric_total(port, "evcs_gc_pause_seconds_sum")) is None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the process on operations port {port} does not answer")
        time.sleep(0.1)
    return total
