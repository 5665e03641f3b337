"""The background load generator takes only CPU time no server wants, also when the kernel
shares CPU time between sessions first (autogroup)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

_PROBE = """
import os
from bench.loadgen import idle_priority
idle_priority()
path = "/proc/self/autogroup"
nice = open(path).read().split()[-1] if os.path.exists(path) else "none"
print(os.sched_getscheduler(0) == os.SCHED_IDLE, os.getsid(0) == os.getpid(), nice)
"""


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux's")
def test_the_load_generator_runs_idle_in_a_session_of_its_own() -> None:
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], cwd=root, capture_output=True, text=True, check=True
    ).stdout.split()
    idle, leader, nice = out
    assert idle == "True"
    assert leader == "True"  # its own session: its own autogroup, apart from the servers'
    if os.path.exists("/proc/self/autogroup"):
        assert nice == "19"  # that group at the lowest nice
