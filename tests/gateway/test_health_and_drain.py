"""Liveness, readiness, and the drain: what a node refuses while draining, and how live
sessions run on to the deadline and are then ended with reason ``shutdown``."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.drain import drain
from kinds.clock import SystemClock
from tests.gateway.conftest import Gateway, start_gateway
from tests.gateway.telephony.conftest import (  # noqa: F401 - fixtures used by name
    FakeTwilio,
    phone_gateway,
    twilio,
)
from tests.gateway.ws_helpers import closed, connect, receive, receive_until
from tests.kura_process import free_port
from tests.virtual_clock import VirtualClock


@contextlib.asynccontextmanager
async def _gateway(tmp_path: Path, clock: Any = None, **settings: Any) -> AsyncIterator[Gateway]:
    running = start_gateway(tmp_path, clock or SystemClock(), **settings)
    try:
        yield await anext(running)
    finally:
        await running.aclose()


async def _json(response: aiohttp.ClientResponse) -> Any:
    return json.loads(await response.text())


async def test_liveness_and_readiness_without_redis(gateway: Gateway) -> None:
    live = await gateway.request("GET", "/api/v1/health/live", key=None)
    assert (live.status, await _json(live)) == (
        200,
        {"status": "ok", "node_id": gateway.ctx.node_id},
    )
    ready = await gateway.request("GET", "/api/v1/health/ready", key=None)
    assert ready.status == 200
    assert (await _json(ready))["checks"] == {
        "database": "ok", "redis": "not_configured", "drain": "ok"
    }  # fmt: skip


@pytest.mark.redis
async def test_readiness_pings_redis(tmp_path: Path, redis_url: str) -> None:
    async with _gateway(tmp_path, redis_url=redis_url) as gw:
        ready = await gw.request("GET", "/api/v1/health/ready", key=None)
        body = await _json(ready)
    assert (ready.status, body["status"], body["checks"]["redis"]) == (200, "ready", "ok")


async def test_unreachable_redis_is_reported_and_the_node_keeps_serving(tmp_path: Path) -> None:
    """Every node shares Redis: failing readiness on all of them would be a full outage, while
    each can serve without it (README, "Running several nodes")."""
    async with _gateway(tmp_path, redis_url=f"redis://127.0.0.1:{free_port()}/0") as gw:
        ready = await gw.request("GET", "/api/v1/health/ready", key=None)
        body = await _json(ready)
        assert (ready.status, body["status"], body["checks"]["redis"]) == (200, "degraded", "down")
        created = await gw.create_session(mode="chat")  # rate limit and claims degrade locally
        ws = await connect(gw, created)
        assert (await receive(ws))["type"] == "sessionOpen"
        reply = await gw.request("DELETE", f"/api/v1/sessions/{created['session_id']}")
        assert reply.status == 200
        assert reply.headers["X-RateLimit-Remaining"] == "58"  # counted on this node
        assert await closed(ws) == 1000  # the owner is this node: ended without Redis


async def test_a_draining_node_refuses_new_work_and_ends_live_sessions_at_the_deadline(
    tmp_path: Path,
) -> None:
    clock = VirtualClock()
    async with _gateway(tmp_path, clock, drain_timeout_s=30) as gw:
        live_one = await gw.create_session(mode="chat")
        waiting = await gw.create_session(mode="chat")
        ws = await connect(gw, live_one)
        await receive_until(ws, "sessionOpen")
        draining = asyncio.create_task(drain(gw.ctx))
        await clock.advance(0)
        assert gw.ctx.drain.draining

        refused = await gw.request("POST", "/api/v1/sessions", json={"assistant_id": 1})
        assert refused.status == 503
        assert (await _json(refused))["error"]["code"] == "unavailable"
        with pytest.raises(aiohttp.WSServerHandshakeError) as handshake:
            await connect(gw, waiting)
        assert handshake.value.status == 503
        ready = await gw.request("GET", "/api/v1/health/ready", key=None)
        assert ready.status == 503
        assert (await _json(ready))["checks"]["drain"] == "draining"
        assert (await gw.request("GET", "/api/v1/health/live", key=None)).status == 200

        # The live session keeps working until the deadline: no turn is lost.
        await ws.send_str(json.dumps({"type": "textMessage", "text": "still there?"}))
        await receive_until(ws, "turnComplete")
        await clock.advance(29)
        assert not draining.done()
        await clock.advance(2)
        assert await closed(ws) == 1001
        await asyncio.wait_for(draining, 5)
        await gw.ctx.transcripts.drain()
        view = await _json(await gw.request("GET", f"/api/v1/sessions/{live_one['session_id']}"))
        assert (view["status"], view["end_reason"]) == ("ended", "shutdown")
        turns = await gw.ctx.store.sessions.turns(live_one["session_id"])
        assert any(t.text == "still there?" for t in turns)


async def test_the_drain_ends_early_once_live_sessions_finish(tmp_path: Path) -> None:
    clock = VirtualClock()
    async with _gateway(tmp_path, clock, drain_timeout_s=30) as gw:
        ws = await connect(gw, await gw.create_session(mode="chat"))
        await receive_until(ws, "sessionOpen")
        draining = asyncio.create_task(drain(gw.ctx))
        await clock.advance(0)
        await ws.send_str(json.dumps({"type": "stopSession"}))
        assert await closed(ws) == 1000
        for _ in range(50):  # the runner records the end, then the drain's next look sees it
            if draining.done():
                break
            await clock.advance(0.1)
        assert draining.done()


async def test_voice_webhooks_answer_503_while_draining(twilio: FakeTwilio) -> None:  # noqa: F811
    twilio.gateway.ctx.drain.draining = True
    response = await twilio.voice(twilio.call_fields())
    assert response.status == 503  # Twilio then requests the number's fallback URL
    status = await twilio.status(twilio.call_fields(CallStatus="completed"))
    assert status.status == 200  # calls already placed still report their status
