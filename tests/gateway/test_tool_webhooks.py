"""Tool calls end to end: the model calls, a signed webhook is POSTed, the answer goes back."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from gateway.sessions.tools import verify
from providers.events import ToolCall, ToolCallsCancelled
from tests.gateway.conftest import WEBHOOK_SECRET, Gateway, free_port
from tests.gateway.ws_helpers import connect, receive


class Receiver:
    """A webhook receiver that verifies every delivery the way a customer would."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[dict[str, Any], str]] = []
        self.behaviour = "ok"
        self.release = asyncio.Event()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        signature = request.headers["X-Kura-Signature"]
        if not verify(WEBHOOK_SECRET.encode(), signature, body, now_s=time.time()):
            return web.json_response({"error": "bad signature"}, status=401)
        self.deliveries.append((json.loads(body), request.headers["X-Kura-Delivery"]))
        if self.behaviour == "slow":
            await self.release.wait()
        if self.behaviour == "fail":
            return web.Response(status=500, text="boom")
        if self.behaviour == "text":
            return web.Response(text="booked")
        return web.json_response({"booked": True, "slot": "10:30"})


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    hook = Receiver()
    app = web.Application()
    app.router.add_post("/hook", hook.handle)
    server = TestServer(app, host="127.0.0.1", port=free_port())
    await server.start_server()
    yield hook, str(server.make_url("/hook"))
    hook.release.set()
    await server.close()


async def _tool_session(gateway: Gateway, url: str) -> tuple[Any, dict[str, Any]]:
    tools = [{"name": "book", "parameters": {"type": "object"}, "webhook_url": url}]
    assistant_id = await gateway.use_scripted_assistant(tools=tools)
    created = await gateway.create_session(assistant_id=assistant_id, phone_number="+15550001111")
    ws = await connect(gateway, created)
    await receive(ws)
    created["assistant_id"] = assistant_id
    return ws, created


async def _result(gateway: Gateway) -> tuple[str, dict[str, Any]]:
    session = gateway.scripted.sessions[0]
    for _ in range(500):
        if session.tool_results:
            return session.tool_results[0]
        await asyncio.sleep(0.01)
    raise AssertionError("no tool result reached the provider")


async def test_tool_call_round_trip_with_a_signed_payload(
    gateway: Gateway, receiver: tuple[Receiver, str]
) -> None:
    hook, url = receiver
    ws, created = await _tool_session(gateway, url)
    session = gateway.scripted.sessions[0]
    assert session.assistant.tools[0].name == "book"
    session.emit(ToolCall("c1", "book", {"date": "2026-02-15"}))
    assert await _result(gateway) == ("c1", {"booked": True, "slot": "10:30"})
    payload, delivery = hook.deliveries[0]
    assert payload["tool_name"] == "book"
    assert payload["tool_args"] == {"date": "2026-02-15"}
    assert payload["assistant_id"] == created["assistant_id"]
    assert payload["session_id"] == created["session_id"]
    assert payload["phone_number"] == "+15550001111"
    assert payload["timestamp"].endswith("Z") and len(payload["timestamp"]) == 24
    assert len(delivery) == 36
    await ws.close()


async def test_a_withdrawn_call_abandons_its_webhook(
    gateway: Gateway, receiver: tuple[Receiver, str]
) -> None:
    hook, url = receiver
    hook.behaviour = "slow"
    ws, _ = await _tool_session(gateway, url)
    session = gateway.scripted.sessions[0]
    session.emit(ToolCall("c1", "book", {}))
    for _ in range(500):
        if hook.deliveries:
            break
        await asyncio.sleep(0.01)
    session.emit(ToolCallsCancelled(("c1", "never-called")))
    session.emit(ToolCall("c2", "book", {}))  # the conversation goes on
    hook.behaviour = "ok"
    assert await _result(gateway) == ("c2", {"booked": True, "slot": "10:30"})
    hook.release.set()
    await asyncio.sleep(0.2)
    assert [call_id for call_id, _ in session.tool_results] == ["c2"]
    await ws.close()


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [("fail", "HTTP 500"), ("slow", "timed out"), ("text", None)],
)
async def test_tool_failures_reach_the_model_as_errors(
    gateway: Gateway, receiver: tuple[Receiver, str], behaviour: str, expected: str | None
) -> None:
    hook, url = receiver
    hook.behaviour = behaviour
    ws, _ = await _tool_session(gateway, url)
    gateway.scripted.sessions[0].emit(ToolCall("c1", "book", {}))
    _, result = await _result(gateway)
    if expected is None:
        assert result == {"result": "booked"}
    else:
        assert expected in result["error"]
    await ws.close()


async def test_unreachable_webhook_is_retried_then_reported(gateway: Gateway) -> None:
    url = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens here
    ws, _ = await _tool_session(gateway, url)
    gateway.scripted.sessions[0].emit(ToolCall("c1", "book", {}))
    _, result = await _result(gateway)
    assert "could not be reached" in result["error"]
    await ws.close()


async def test_tool_without_a_webhook_is_an_error_result(gateway: Gateway) -> None:
    assistant_id = await gateway.use_scripted_assistant(tools=[{"name": "lookup"}])
    created = await gateway.create_session(assistant_id=assistant_id)
    ws = await connect(gateway, created)
    await receive(ws)
    gateway.scripted.sessions[0].emit(ToolCall("c9", "lookup", {}))
    assert await _result(gateway) == ("c9", {"error": "tool 'lookup' has no webhook"})
    await ws.close()


def test_signatures_reject_tampering_and_stale_timestamps() -> None:
    from gateway.sessions.tools import sign

    secret = b"s3cret"
    body = b'{"tool_name":"book"}'
    header = sign(secret, 1_700_000_000, body)
    assert verify(secret, header, body, now_s=1_700_000_100)
    assert not verify(secret, header, body + b" ", now_s=1_700_000_100)
    assert not verify(b"other", header, body, now_s=1_700_000_100)
    assert not verify(secret, header, body, now_s=1_700_000_000 + 301)
    assert not verify(secret, "v1=abc", body, now_s=1_700_000_000)
