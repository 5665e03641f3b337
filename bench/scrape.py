"""A running process's Prometheus metrics, read from its operations port (EVCS_OPS_PORT)."""

from __future__ import annotations

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
