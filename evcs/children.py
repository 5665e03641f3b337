"""The child processes of `evcs dev`: start one, wait until it serves, stop them all."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from shared.ports import port_free


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log: Path


def spawn(
    name: str, argv: list[str], env: dict[str, str], logs: Path, module: str = "evcs"
) -> Child:
    """Start `python -m <module> <argv>` in its own session, its output in logs/<name>.log."""
    log = logs / f"{name}.log"
    handle = log.open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", module, *argv],
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    return Child(name, process, log)


def listening(host: str, port: int) -> Callable[[], bool]:
    return lambda: not port_free(host, port)


def lb(
    name: str,
    host: str,
    public: int,
    ports: list[int],
    env: dict[str, str],
    logs: Path,
    health_path: str | None = None,
) -> Child:
    argv = ["--listen", f"{host}:{public}"]
    for port in ports:
        argv += ["--backend", f"{host}:{port}"]
    if health_path:
        argv += ["--health-path", health_path]
    return spawn(name, argv, env, logs, module="evcs.lb")


def wait_until(
    check: Callable[[], bool], what: str, children: list[Child], timeout: float = 30
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in children:
            if child.process.poll() is not None:
                raise RuntimeError(f"{child.name} exited early; see {child.log}")
        if check():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not come up within {timeout:.0f}s")


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def stop_all(children: list[Child]) -> None:
    for child in reversed(children):
        if child.process.poll() is None:
            child.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for child in reversed(children):
        try:
            child.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.process.kill()
