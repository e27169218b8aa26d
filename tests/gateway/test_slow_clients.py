"""A client that stops reading is dropped, not served from the kernel's buffers for minutes
(reliability.md row 28)."""

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

AGENT_100MS = b"\x10\x27" * 2400  # 100 ms of PCM16 24 kHz
DROP_WITHIN_S = 10.0


async def _open_and_never_read(url: URL) -> asyncio.StreamWriter:
    """A WebSocket handshake by hand, then silence: no frame is ever read again."""
    assert url.host is not None and url.port is not None
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (url.host, url.port))
    reader, writer = await asyncio.open_connection(sock=sock)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET {url.raw_path_qs} HTTP/1.1\r\nHost: {url.host}:{url.port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    return writer


@pytest.mark.slow
async def test_a_client_that_stops_reading_is_dropped(gateway: Gateway) -> None:
    assistant_id = await gateway.use_scripted_assistant()
    # No grace period: a dropped client ends the session (with one, it would wait for a
    # resume; tests/gateway/test_resume.py).
    created = await gateway.create_session(assistant_id=assistant_id, resume_grace_s=0)
    writer = await _open_and_never_read(URL(created["websocket_url"]))
    await asyncio.wait_for(gateway.scripted.connected.wait(), 5)
    session = gateway.scripted.sessions[0]
    started = time.monotonic()
    # Agent audio at real-time pace: the outbox (10 s deep) never fills in this time, so only
    # the socket's own back-pressure can drop the client.
    while not session.closed.is_set() and time.monotonic() - started < DROP_WITHIN_S + 5:
        session.emit(AgentAudio(AGENT_100MS, "a1"))
        await asyncio.sleep(0.1)
    dropped_after_s = time.monotonic() - started
    print(f"client dropped {dropped_after_s:.1f} s after the first agent audio")
    writer.close()
    assert session.closed.is_set(), "the client was never dropped"
    assert dropped_after_s <= DROP_WITHIN_S, dropped_after_s
    await gateway.ctx.transcripts.drain()
    view = await (await gateway.request("GET", f"/api/v1/sessions/{created['session_id']}")).json()
    assert (view["status"], view["end_reason"]) == ("ended", "slow_client")
