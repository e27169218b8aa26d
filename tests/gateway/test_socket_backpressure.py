"""``SendProgress`` on real loopback sockets, with its clock in the test's hands."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from gateway.api import socket_backpressure
from gateway.api.socket_backpressure import NO_PROGRESS_S, SendProgress, bound_send_buffers


class _Transport:
    """What ``SendProgress`` asks of a transport: its socket and its own unsent bytes."""

    def __init__(self, sock: socket.socket, buffered: int = 0) -> None:
        self.sock = sock
        self.buffered = buffered

    def get_extra_info(self, name: str) -> Any:
        return self.sock if name == "socket" else None


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        client = socket.socket()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.connect(listener.getsockname())
        server, _ = listener.accept()
    server.setblocking(False)
    with client, server:
        yield server, client


def _fill(sock: socket.socket) -> int:
    sent = 0
    while True:
        try:
            sent += sock.send(b"x" * 4096)
        except BlockingIOError:
            return sent


class _Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_peer_that_takes_nothing_is_stalled_after_the_deadline(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    server, _ = pair
    bound_send_buffers(_Transport(server))  # type: ignore[arg-type]
    clock = _Clock()
    progress = SendProgress(_Transport(server), clock=clock)  # type: ignore[arg-type]
    _fill(server)
    assert not progress.stalled()  # first sight of the count
    clock.now = NO_PROGRESS_S - 0.1
    assert not progress.stalled()
    clock.now = NO_PROGRESS_S + 0.1
    assert progress.stalled()


def test_a_peer_that_reads_a_little_is_not_stalled(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    server, client = pair
    clock = _Clock()
    progress = SendProgress(_Transport(server), clock=clock)  # type: ignore[arg-type]
    for step in range(10):
        _fill(server)
        client.recv(4096)  # a slow reader: one small bite per interval
        clock.now = step * NO_PROGRESS_S / 2
        assert not progress.stalled(), step


def test_nothing_waiting_is_never_a_stall(pair: tuple[socket.socket, socket.socket]) -> None:
    server, _ = pair
    clock = _Clock()
    progress = SendProgress(_Transport(server), clock=clock)  # type: ignore[arg-type]
    for step in range(5):
        clock.now = step * NO_PROGRESS_S
        assert not progress.stalled()


def test_without_tcp_info_the_bytes_waiting_in_our_process_decide(
    pair: tuple[socket.socket, socket.socket], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, _ = pair
    monkeypatch.setattr(socket_backpressure, "_bytes_acked", lambda sock: None)
    clock = _Clock()
    transport = _Transport(server, buffered=socket_backpressure.STALLED_BYTES + 1)
    monkeypatch.setattr(SendProgress, "_transport_buffer", lambda self: transport.buffered)
    progress = SendProgress(transport, clock=clock)  # type: ignore[arg-type]
    assert not progress.stalled()
    clock.now = NO_PROGRESS_S
    assert progress.stalled()
    transport.buffered = 0
    assert not progress.stalled()
