"""Erasing a contact with its transcripts, transcript retention, over a real gateway."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Select, func, select

from gateway.sessions.retention import FIRST_SWEEP_S, TranscriptRetention
from gateway.sessions.transcripts import TurnRecord
from gateway.store.models import Contact, Session, Turn
from kinds.clock import SystemClock
from tests.gateway.conftest import Gateway, start_gateway
from tests.gateway.ws_helpers import closed, receive, receive_until
from tests.virtual_clock import VirtualClock

CALLER = "+15550007777"
SECRET_TEXT = "my account number is 99887766"


async def _count(gw: Gateway, query: Select[tuple[int]]) -> int:
    async with gw.ctx.store.engine.connect() as db:
        return int(await db.scalar(query) or 0)


async def test_erasing_a_contact_leaves_nothing_behind(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="gateway")
    done = await gateway.create_session(mode="chat", phone_number=CALLER, metadata={"x": 1})
    ws = await gateway.http.ws_connect(done["websocket_url"])
    await receive(ws)
    await receive_until(ws, "turnComplete")
    await ws.send_str(json.dumps({"type": "textMessage", "text": SECRET_TEXT}))
    await receive_until(ws, "turnComplete")
    await ws.send_str(json.dumps({"type": "stopSession"}))
    assert await closed(ws) == 1000
    live = await gateway.create_session(mode="chat", phone_number=CALLER)
    live_ws = await gateway.http.ws_connect(live["websocket_url"])
    await receive(live_ws)
    await live_ws.send_str(json.dumps({"type": "textMessage", "text": SECRET_TEXT}))
    await receive_until(live_ws, "turnComplete")
    bystander = await gateway.create_session(mode="chat", phone_number="+15550008888")
    await gateway.ctx.transcripts.drain()
    contact = await gateway.ctx.store.contacts.get_by_number(CALLER)
    assert contact is not None
    path = f"/api/v1/admin/contacts/{contact.id}"

    refused = await gateway.request("DELETE", path)
    assert refused.status == 422
    response = await gateway.request("DELETE", path + "?erase=true")
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body == {"contact_id": contact.id, "sessions_erased": 2, "turns_deleted": 6}
    assert await closed(live_ws) == 1000

    ids = [done["session_id"], live["session_id"]]
    turns = select(func.count()).select_from(Turn).where(Turn.session_id.in_(ids))
    assert await _count(gateway, turns) == 0
    assert await _count(gateway, select(func.count()).select_from(Contact).where(
        Contact.phone_number == CALLER)) == 0  # fmt: skip
    leftovers = select(func.count()).select_from(Session).where(Session.phone_number == CALLER)
    assert await _count(gateway, leftovers) == 0
    for session_id in ids:
        view = await (await gateway.request("GET", f"/api/v1/sessions/{session_id}")).json()
        assert (view["phone_number"], view["contact_id"], view["metadata"]) == (None, None, {})
        assert view["status"] == "ended"
    live_view = await (await gateway.request("GET", f"/api/v1/sessions/{ids[1]}")).json()
    assert live_view["end_reason"] == "contact_erased"
    late = datetime.now(UTC)  # a node still wrapping a session up writes its last turn
    gateway.ctx.transcripts.submit(ids[1], 99, (TurnRecord("user", SECRET_TEXT, late, late),), 1)
    await gateway.ctx.transcripts.drain()
    assert await _count(gateway, turns) == 0
    assert (await gateway.request("GET", path)).status == 404
    assert (await gateway.request("DELETE", path + "?erase=true")).status == 404
    other = await (
        await gateway.request("GET", f"/api/v1/sessions/{bystander['session_id']}")
    ).json()
    assert other["phone_number"] == "+15550008888"
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert SECRET_TEXT not in logged and CALLER not in logged


async def test_erasing_needs_contacts_write(gateway: Gateway) -> None:
    await gateway.create_session(phone_number=CALLER)
    contact = await gateway.ctx.store.contacts.get_by_number(CALLER)
    assert contact is not None
    reader = await gateway.create_key(["contacts:read"])
    response = await gateway.request(
        "DELETE", f"/api/v1/admin/contacts/{contact.id}?erase=true", key=reader
    )
    assert response.status == 403


async def test_retention_deletes_only_turns_older_than_the_setting(gateway: Gateway) -> None:
    created = await gateway.create_session(mode="chat")
    now = gateway.clock.now()
    old, recent = now - timedelta(days=40), now - timedelta(days=2)
    writer = gateway.ctx.transcripts
    writer.submit(created["session_id"], 0, (TurnRecord("user", "old", old, old),), 1)
    writer.submit(created["session_id"], 1, (TurnRecord("user", "new", recent, recent),), 1)
    await writer.drain()
    retention = TranscriptRetention(gateway.ctx.store.sessions, gateway.clock, days=30)
    assert await retention.sweep_once() == 1
    kept = await gateway.ctx.store.sessions.turns(created["session_id"])
    assert [t.text for t in kept] == ["new"]
    assert await retention.sweep_once() == 0


async def test_the_sweep_runs_a_minute_after_start_then_hourly(gateway: Gateway) -> None:
    created = await gateway.create_session(mode="chat")
    clock = VirtualClock(start=gateway.clock.now())
    old = clock.now() - timedelta(days=31)
    gateway.ctx.transcripts.submit(
        created["session_id"], 0, (TurnRecord("user", "x", old, old),), 1
    )
    await gateway.ctx.transcripts.drain()
    sweeping = asyncio.create_task(
        TranscriptRetention(gateway.ctx.store.sessions, clock, days=30).run()
    )
    try:
        await clock.sleeping(1)
        assert len(await gateway.ctx.store.sessions.turns(created["session_id"])) == 1
        await clock.advance(FIRST_SWEEP_S)
        await clock.sleeping(1)  # swept, and asleep for the next hour
        assert await gateway.ctx.store.sessions.turns(created["session_id"]) == []
    finally:
        sweeping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeping


async def test_a_gateway_with_retention_runs_the_sweep(tmp_path: Path) -> None:
    async for gw in start_gateway(tmp_path, SystemClock(), transcript_retention_days=30):
        names = {task.get_name() for task in asyncio.all_tasks()}
        assert "transcript-retention" in names
        assert gw.ctx.settings.transcript_retention_days == 30
