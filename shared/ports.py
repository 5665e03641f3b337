"""Ports for servers this project starts itself (embedded servers, `evcs dev`'s children,
test and benchmark processes): chosen here, bound by the child later.

A port the kernel hands out for `bind(port 0)` comes from the ephemeral range, the same range
every outgoing connection takes its local port from. Between our choice and the child's bind,
any connection on the machine may take it, and the child then fails to start: a rare, random
failure on a busy machine. Ports below the ephemeral range are never given to outgoing
connections, so only another chooser could take one, and choices are spread at random.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST = 10_000
_DEFAULT_EPHEMERAL_START = 32_768


def _ephemeral_start() -> int:
    try:
        return int(_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return _DEFAULT_EPHEMERAL_START


def port_free(host: str, port: int) -> bool:
    """Whether a server could listen on host:port now."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on, outside the ephemeral range when there is room below it."""
    top = _ephemeral_start()
    if top - _LOWEST >= 1_000:
        for _ in range(200):
            port = random.randrange(_LOWEST, top)
            if port_free(host, port):
                return port
    with socket.socket() as s:  # no room below it (an unusual range): the kernel's choice
        s.bind((host, 0))
        chosen: int = s.getsockname()[1]
        return chosen
