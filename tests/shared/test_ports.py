"""Ports we choose for our own servers stay out of the kernel's ephemeral range, where an
outgoing connection could take one before the server binds it."""

from __future__ import annotations

import socket

from shared import ports


def test_a_chosen_port_is_free_and_below_the_ephemeral_range() -> None:
    top = ports._ephemeral_start()
    chosen = {ports.free_port() for _ in range(50)}
    assert all(10_000 <= port < top for port in chosen)
    assert len(chosen) > 40  # spread at random, so two choosers rarely meet
    for port in list(chosen)[:5]:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))  # a server can take it


def test_a_port_with_a_listener_is_not_free() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", ports.free_port()))
        server.listen()
        port = server.getsockname()[1]
        assert not ports.port_free("127.0.0.1", port)
    assert ports.port_free("127.0.0.1", port)
