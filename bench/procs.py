"""Start the processes under test as real subprocesses and read how much CPU they used."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine spent busy (not idle, not waiting on I/O)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    ticks = [int(f) for f in fields]
    idle = ticks[3] + ticks[4]  # idle, iowait
    return (sum(ticks[:8]) - idle) / _TICK


def sched_seconds(pid: int) -> tuple[float, float]:
    """Seconds the process's main thread (its event loop) ran on a CPU, and waited runnable for
    one (Linux /proc schedstat)."""
    ran, waited, _ = Path(f"/proc/{pid}/schedstat").read_text().split()
    return int(ran) / 1e9, int(waited) / 1e9


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    port: int

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (a `--workers` parent passes it on); after `timeout`, SIGKILL to it and its
        workers alike, so none is left serving beside the process that replaces it."""
        if self.popen.poll() is None:
            workers = tree(self.pid)[1:]
            self.popen.terminate()
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                for pid in workers:
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
                self.popen.kill()
                self.popen.wait()


def tree(pid: int) -> list[int]:
    """The process and its children (a csms's workers)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return [pid]
    return [pid, *(int(c) for c in children)]


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listened on port {port} within {timeout}s")


def start(
    name: str, argv: list[str], env: dict[str, str], port: int, log: Path, timeout: float = 30
) -> Proc:
    """Run `python -m <argv>` and wait until it listens on `port`."""
    proc = start_unbound(name, argv, env, log)
    try:
        _wait_port(port, proc.popen, timeout)
    except BaseException:
        proc.stop()  # not left running behind the failed run
        raise
    proc.port = port
    return proc


def start_unbound(name: str, argv: list[str], env: dict[str, str], log: Path) -> Proc:
    """Run `python -m <argv>` for a process that listens on no port (a recorder)."""
    handle = log.open("ab")
    popen = subprocess.Popen(
        [sys.executable, "-m", *argv],
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    return Proc(name, popen, 0)
