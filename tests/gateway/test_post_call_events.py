"""Post-call events: signed, durable in the outbox, delivered across a restart (0 lost)."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from gateway.sessions.tools import verify
from kinds.clock import SystemClock
from tests.gateway.conftest import WEBHOOK_SECRET, Gateway, start_gateway
from tests.gateway.ws_helpers import receive, receive_until

WAIT_S = 10.0


@dataclass
class Receiver:
    """A CRM's webhook endpoint on loopback: answers ``status``, records every attempt."""

    status: int = 503
    attempts: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)
    """(X-Kura-Delivery, the status answered, body) of every request."""
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        signature = request.headers.get("X-Kura-Signature", "")
        assert verify(WEBHOOK_SECRET.encode(), signature, raw, now_s=time.time())
        body = json.loads(raw)
        assert request.headers["X-Kura-Delivery"] == body["id"]
        assert request.headers["X-Kura-Event"] == body["type"]
        self.attempts.append((body["id"], self.status, body))
        self.changed.set()
        return web.Response(status=self.status)

    def delivered(self) -> dict[str, dict[str, Any]]:
        return {event_id: body for event_id, status, body in self.attempts if status == 200}

    async def until(self, ready: Any) -> None:
        async with asyncio.timeout(WAIT_S):
            while not ready():
                self.changed.clear()
                await self.changed.wait()


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    crm = Receiver()
    app = web.Application()
    app.router.add_post("/events", crm.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield crm, str(server.make_url("/events"))
    finally:
        await server.close()


async def _chat_session(gw: Gateway, events_url: str) -> str:
    assistant = await gw.ctx.store.assistants.create(
        {"name": "CRM", "provider": "local", "events_url": events_url}, gw.clock.now()
    )
    created = await gw.create_session(assistant_id=assistant.id, mode="chat")
    ws = await gw.http.ws_connect(created["websocket_url"])
    assert (await receive(ws))["type"] == "sessionOpen"
    await ws.send_str(json.dumps({"type": "textMessage", "text": "Hello"}))
    await receive_until(ws, "turnComplete")
    await ws.send_str(json.dumps({"type": "stopSession"}))
    await ws.close()
    session_id: str = created["session_id"]
    return session_id


@pytest.fixture
async def database_url(tmp_path: Path) -> AsyncIterator[str]:
    """One database for both runs of the gateway (a PostgreSQL one outlives the first run)."""
    if os.environ.get("KURA_TEST_BACKEND", "sqlite") != "postgres":
        yield f"sqlite+aiosqlite:///{tmp_path / 'kura.db'}"
        return
    from tests.conftest import drop_postgres_database, fresh_postgres_database

    url, name = await fresh_postgres_database()
    try:
        yield url
    finally:
        await drop_postgres_database(name)


async def test_events_survive_a_restart_with_the_receiver_down_then_up(
    tmp_path: Path, database_url: str, receiver: tuple[Receiver, str]
) -> None:
    crm, url = receiver
    settings: dict[str, Any] = {"events_retry_base_s": 0.05, "database_url": database_url}
    first = start_gateway(tmp_path, SystemClock(), **settings)
    gw = await anext(first)
    session_id = await _chat_session(gw, url)
    # Down: both events are tried (and retried), none delivered.
    await crm.until(
        lambda: {b["type"] for _, _, b in crm.attempts} >= {"session.started", "session.ended"}
    )
    await crm.until(lambda: len(crm.attempts) >= 4)
    tried = {event_id for event_id, _, _ in crm.attempts}
    assert len(tried) == 2 and crm.delivered() == {}
    await first.aclose()  # the gateway stops with both events undelivered
    crm.status = 200
    second = start_gateway(tmp_path, SystemClock(), **settings)
    await anext(second)
    await crm.until(lambda: len(crm.delivered()) == 2)
    delivered = crm.delivered()
    assert set(delivered) == tried  # the same delivery ids as before the restart: 0 lost
    ended = next(b for b in delivered.values() if b["type"] == "session.ended")
    data = ended["data"]
    assert data["session_id"] == session_id
    assert data["end_reason"] == "client_stop"
    assert data["turns"] == 1
    assert (data["transcript"][0]["role"], data["transcript"][0]["text"]) == ("user", "Hello")
    assert data["tools_called"] == [] and data["recording_url"] is None
    assert set(ended) == {"id", "type", "created_at", "data"}
    await second.aclose()


async def test_no_events_without_an_events_url(gateway: Gateway) -> None:
    created = await gateway.create_session(mode="chat")
    ws = await gateway.http.ws_connect(created["websocket_url"])
    await receive_until(ws, "turnComplete")
    await ws.send_str(json.dumps({"type": "stopSession"}))
    await ws.close()
    row = await gateway.ctx.store.sessions.get(created["session_id"])
    assert row is not None
    claimed = await gateway.ctx.store.outbox.claim(
        "probe", gateway.clock.now(), gateway.clock.now(), limit=10
    )
    assert claimed == []
