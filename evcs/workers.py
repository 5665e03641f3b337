"""`--workers N`: N processes of one role on one host, sharing its port through SO_REUSEPORT,
so a node uses every core. Each csms worker is a node of its own in the registry."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from shared.settings import Settings


def worker_env(settings: Settings, index: int) -> dict[str, str]:
    env = {
        **os.environ,
        "EVCS_WORKERS": "1",
        "EVCS_REUSE_PORT": "true",
        "EVCS_NODE_ID": f"{settings.node_id}-{index}",
    }
    if settings.ops_port:
        env["EVCS_OPS_PORT"] = str(settings.ops_port + index)
    return env


def run(role: str, settings: Settings, count: int) -> int:
    """Run `count` workers of `role` until they exit; SIGTERM/SIGINT are passed on to them."""
    children = [
        subprocess.Popen([sys.executable, "-m", "evcs", role], env=worker_env(settings, i))
        for i in range(count)
    ]

    def forward(signum: int, frame: object) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    codes = [child.wait() for child in children]
    return max(codes, key=abs)
