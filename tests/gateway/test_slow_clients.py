"""A client that stops reading is dropped within seconds, one that reads slowly but keeps up
with real time is not (reliability.md row 28)."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import time

import pytest
from yarl import URL

from providers.events import AgentAudio
from tests.gateway.conftest import Gateway

AGENT_100MS = b"\x10\x27" * 2400  # 100 ms of PCM16 24 kHz: about 6.5 KB as a JSON frame
DROP_WITHIN_S = 5.0


async def _handshake(url: URL, receive_buffer: int) -> socket.socket:
    """A WebSocket handshake by hand on a raw socket: nothing reads it unless the test does."""
    assert url.host is not None and url.port is not None
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)  # before connect
    sock.setblocking(False)
    await loop.sock_connect(sock, (url.host, url.port))
    key = base64.b64encode(os.urandom(16)).decode()
    await loop.sock_sendall(
        sock,
        f"GET {url.raw_path_qs} HTTP/1.1\r\nHost: {url.host}:{url.port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode(),
    )
    head = await loop.sock_recv(sock, 1024)  # the 101 is sent before any session message
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


async def _speak_until_closed(gateway: Gateway, limit_s: float) -> float:
    """Agent audio at real-time pace until the provider session closes or ``limit_s`` passes:
    the outbox (10 s deep) never fills in this time, so only back-pressure can drop a client."""
    await asyncio.wait_for(gateway.scripted.connected.wait(), 5)
    session = gateway.scripted.sessions[0]
    started = time.monotonic()
    next_chunk = started
    while not session.closed.is_set() and time.monotonic() - started < limit_s:
        session.emit(AgentAudio(AGENT_100MS, "a1"))
        next_chunk += 0.1
        await asyncio.sleep(max(0.0, next_chunk - time.monotonic()))
    return time.monotonic() - started


async def _end_reason(gateway: Gateway, session_id: str) -> tuple[str, str | None]:
    await gateway.ctx.transcripts.drain()
    view = await (await gateway.request("GET", f"/api/v1/sessions/{session_id}")).json()
    return view["status"], view["end_reason"]


@pytest.mark.slow
async def test_a_client_that_stops_reading_is_dropped(gateway: Gateway) -> None:
    assistant_id = await gateway.use_scripted_assistant()
    created = await gateway.create_session(assistant_id=assistant_id, resume_grace_s=0)
    sock = await _handshake(URL(created["websocket_url"]), receive_buffer=4096)
    try:
        dropped_after_s = await _speak_until_closed(gateway, DROP_WITHIN_S + 5)
    finally:
        sock.close()
    print(f"client dropped {dropped_after_s:.1f} s after the first agent audio")
    assert gateway.scripted.sessions[0].closed.is_set(), "the client was never dropped"
    assert dropped_after_s <= DROP_WITHIN_S, dropped_after_s
    assert await _end_reason(gateway, created["session_id"]) == ("ended", "slow_client")


async def _read_slowly(sock: socket.socket, bytes_per_s: int, stop: asyncio.Event) -> int:
    """Read in small bites a little faster than real-time audio arrives."""
    loop = asyncio.get_running_loop()
    taken = 0
    while not stop.is_set():
        await asyncio.sleep(0.2)
        budget = bytes_per_s // 5
        while budget > 0:
            try:
                chunk = sock.recv(min(budget, 4096))
            except BlockingIOError:
                break
            if not chunk:
                return taken
            taken += len(chunk)
            budget -= len(chunk)
    del loop
    return taken


@pytest.mark.slow
async def test_a_slow_reader_that_keeps_up_is_not_dropped(gateway: Gateway) -> None:
    assistant_id = await gateway.use_scripted_assistant()
    created = await gateway.create_session(assistant_id=assistant_id)
    sock = await _handshake(URL(created["websocket_url"]), receive_buffer=8192)
    stop = asyncio.Event()
    reader = asyncio.create_task(_read_slowly(sock, 80_000, stop))  # real time is ≈ 65 KB/s
    try:
        spoke_s = await _speak_until_closed(gateway, 3 * DROP_WITHIN_S)
    finally:
        stop.set()
        taken = await reader
        sock.close()
    print(f"a slow reader took {taken} bytes in {spoke_s:.1f} s and stayed connected")
    assert not gateway.scripted.sessions[0].closed.is_set() or spoke_s >= 3 * DROP_WITHIN_S
    assert spoke_s >= 3 * DROP_WITHIN_S, f"dropped after {spoke_s:.1f} s"
    assert taken > 50_000 * 3 * DROP_WITHIN_S


READERS = 50  # row 28's load: "50 WebSocket clients that never read"


@pytest.mark.slow
async def test_fifty_clients_that_never_read_are_all_dropped_in_time(gateway: Gateway) -> None:
    assistant_id = await gateway.use_scripted_assistant()
    key = await gateway.create_key(["sessions:create"], rate_limit=10 * READERS)
    socks = []
    try:
        for _ in range(READERS):
            created = await gateway.create_session(key, assistant_id=assistant_id, resume_grace_s=0)
            socks.append(await _handshake(URL(created["websocket_url"]), receive_buffer=4096))
        for _ in range(200):  # the provider sessions open as the sockets are served
            if len(gateway.scripted.sessions) >= READERS:
                break
            await asyncio.sleep(0.05)
        assert len(gateway.scripted.sessions) == READERS
        sessions = list(gateway.scripted.sessions)
        dropped_after: dict[int, float] = {}
        started = next_chunk = time.monotonic()
        while len(dropped_after) < READERS and time.monotonic() - started < DROP_WITHIN_S + 10:
            for index, session in enumerate(sessions):
                if session.closed.is_set():
                    dropped_after.setdefault(index, time.monotonic() - started)
                elif index not in dropped_after:
                    session.emit(AgentAudio(AGENT_100MS, "a1"))
            next_chunk += 0.1
            await asyncio.sleep(max(0.0, next_chunk - time.monotonic()))
    finally:
        for sock in socks:
            sock.close()
    worst = max(dropped_after.values(), default=float("inf"))
    print(f"{len(dropped_after)}/{READERS} dropped, the last {worst:.1f} s after its first audio")
    assert len(dropped_after) == READERS
    assert worst <= DROP_WITHIN_S, worst
