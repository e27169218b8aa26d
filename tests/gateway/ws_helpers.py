"""Helpers for talking to a session WebSocket the way an app does."""

from __future__ import annotations

import asyncio
import json
import weakref
from typing import Any

import aiohttp

from tests.gateway.conftest import Gateway

RECEIVE_TIMEOUT_S = 10.0


async def connect(gw: Gateway, created: dict[str, Any]) -> aiohttp.ClientWebSocketResponse:
    return await gw.http.ws_connect(created["websocket_url"])


_LAST_SEQ: weakref.WeakKeyDictionary[aiohttp.ClientWebSocketResponse, int] = (
    weakref.WeakKeyDictionary()
)


async def receive(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    """The next message, without its ``seq`` (checked here: one more than the last, from 1, so
    every socket test checks that no message is lost or repeated) and without the
    ``resumeToken`` of ``sessionOpen`` (checked to be there; the resume tests read it)."""
    message = await receive_numbered(ws)
    del message["seq"]
    if message["type"] == "sessionOpen":
        assert message.pop("resumeToken").startswith("kura_rt_"), message
    return message


async def receive_numbered(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    """The next message as sent, ``seq`` included (and checked)."""
    frame = await asyncio.wait_for(ws.receive(), RECEIVE_TIMEOUT_S)
    assert frame.type == aiohttp.WSMsgType.TEXT, frame
    message: dict[str, Any] = json.loads(frame.data)
    expected = _LAST_SEQ.get(ws, 0) + 1
    assert message.get("seq") == expected, (message, expected)
    _LAST_SEQ[ws] = expected
    return message


async def receive_until(
    ws: aiohttp.ClientWebSocketResponse, kind: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Messages up to and including the first of type ``kind``."""
    seen: list[dict[str, Any]] = []
    while True:
        message = await receive(ws)
        seen.append(message)
        if message["type"] == kind:
            return message, seen


async def closed(ws: aiohttp.ClientWebSocketResponse) -> int | None:
    """Wait for the server to close; the code in its close frame.

    (``ws.close_code`` can read 1006 when the server drops the transport before our reply.)"""
    while True:
        frame = await asyncio.wait_for(ws.receive(), RECEIVE_TIMEOUT_S)
        if frame.type == aiohttp.WSMsgType.CLOSE:
            return int(frame.data)
        if frame.type == aiohttp.WSMsgType.CLOSED:
            return ws.close_code
