"""Row 28 (first half): slowloris headers and slow bodies are cut off, on the default
deadlines, while a legitimate request is answered as usual."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import requests

from config import Settings
from tests.gateway.conftest import Gateway
from tests.kura_process import kura_serve, sqlite_url

STALLED_CLOSED_WITHIN_S = 30.0  # row 28's pass figure


async def _open(gateway: Gateway) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = gateway.server.host, gateway.server.port
    assert port is not None
    return await asyncio.open_connection(host, port)


async def _dribble(writer: asyncio.StreamWriter, data: bytes, every_s: float) -> None:
    """Send ``data`` one byte at a time, as a slowloris does, until the server closes."""
    try:
        for byte in data:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(every_s)
    except ConnectionError:
        return


async def _seconds_until_closed(
    reader: asyncio.StreamReader, started: float
) -> tuple[float, bytes]:
    answer = await asyncio.wait_for(reader.read(), STALLED_CLOSED_WITHIN_S)
    return time.monotonic() - started, answer


def test_the_default_deadlines_are_within_the_row_figure() -> None:
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    assert defaults.http_header_timeout_s <= STALLED_CLOSED_WITHIN_S
    assert defaults.http_body_timeout_s <= STALLED_CLOSED_WITHIN_S


async def test_slowloris_headers_and_slow_bodies_are_closed(gateway: Gateway) -> None:
    """The deadlines are the defaults (10 s); both stalls run at once, so this takes ~10 s."""
    started = time.monotonic()
    slow_head = await _open(gateway)
    head = b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 100
    slow_body = await _open(gateway)
    slow_body[1].write(
        b"POST /telephony/twilio/status HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 4000\r\n\r\n"
    )
    dribblers = [
        asyncio.create_task(_dribble(slow_head[1], head, 1.0)),
        asyncio.create_task(_dribble(slow_body[1], b"a=" + b"b" * 3998, 1.0)),
    ]
    # A legitimate request meanwhile is answered at once.
    response = await gateway.request("GET", "/api/v1/health", key=None)
    assert response.status == 200
    head_s, head_answer = await _seconds_until_closed(slow_head[0], started)
    body_s, body_answer = await _seconds_until_closed(slow_body[0], started)
    for task in dribblers:
        await task
    for _, writer in (slow_head, slow_body):
        writer.close()
    assert head_s <= STALLED_CLOSED_WITHIN_S
    assert head_answer == b""  # closed without an answer: it never finished asking
    assert body_s <= STALLED_CLOSED_WITHIN_S
    assert body_answer.startswith(b"HTTP/1.1 408")
    assert b"request_timeout" in body_answer


def test_a_client_leaving_mid_body_logs_no_error(tmp_path: Path) -> None:
    """Against ``kura serve`` itself: its runner, unlike the test server, does not cancel a
    handler whose client left, so the read fails there."""
    token = {"KURA_TWILIO_AUTH_TOKEN": "t" * 32}  # so the status webhook would read its body
    with kura_serve(tmp_path, sqlite_url(tmp_path / "kura.db"), **token) as server:
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(
                b"POST /telephony/twilio/status HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n"
                b"Content-Length: 1000\r\n\r\nCallSid=CA"
            )
        deadline = time.monotonic() + 10
        while "mid-body" not in server.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert requests.get(server.url + "/api/v1/health", timeout=5).status_code == 200
        log = server.log()
    assert "mid-body" in log
    assert "Traceback" not in log
    assert "ERROR" not in log
