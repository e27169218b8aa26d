"""Two in-process gateways on one database and one Redis: a session created on one node and
connected on the other is ended by ``DELETE`` on the first, through the control bus."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kinds.clock import SystemClock
from tests.gateway.conftest import Gateway, start_gateway
from tests.gateway.state.conftest import LinkFactory, eventually
from tests.gateway.ws_helpers import closed, receive

pytestmark = pytest.mark.redis


@contextlib.asynccontextmanager
async def _gateway(tmp_path: Path, **settings: Any) -> AsyncIterator[Gateway]:
    running = start_gateway(tmp_path, SystemClock(), **settings)
    try:
        yield await anext(running)
    finally:
        await running.aclose()


def _on(node: Gateway, websocket_url: str) -> str:
    """The same connect URL, pointed at ``node`` (as a load balancer might route it)."""
    path = websocket_url.split("/api/v1/", 1)[1]
    return node.url.replace("http://", "ws://").rstrip("/") + "/api/v1/" + path


async def test_delete_on_one_node_closes_the_socket_held_by_the_other(
    tmp_path: Path, redis_url: str, redis_prefix: str, redis_links: LinkFactory
) -> None:
    """(``redis_links`` deletes the prefix's keys afterwards.)"""
    settings = {"redis_url": redis_url, "redis_key_prefix": redis_prefix}
    async with _gateway(tmp_path, **settings) as a, _gateway(tmp_path, **settings) as b:
        for node in (a, b):  # the bus listeners are up before the test relies on them
            bus: Any = node.ctx.shared.bus
            await asyncio.wait_for(bus.listening.wait(), 5)
        created = await a.create_session(mode="chat")
        ws = await b.http.ws_connect(_on(b, created["websocket_url"]))
        assert (await receive(ws))["type"] == "sessionOpen"
        session_id = created["session_id"]
        assert await a.ctx.shared.directory.owner(session_id) == b.ctx.node_id
        started = time.monotonic()
        reply = await a.request("DELETE", f"/api/v1/sessions/{session_id}")
        assert reply.status == 200
        assert (await reply.json())["end_reason"] == "api_delete"
        assert await closed(ws) == 1000
        assert time.monotonic() - started < 1.0
        assert ws.close_code == 1000
        await ws.close()

        async def released() -> bool:  # the owner releases its claim as the session ends
            return await a.ctx.shared.directory.owner(session_id) is None

        await eventually(released)
