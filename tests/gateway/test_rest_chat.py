"""Chat over plain REST (``POST /api/v1/sessions/{id}/messages``), JSON and SSE, through real
HTTP clients on loopback."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from providers.events import ResponseDone, ToolCall, TranscriptDelta
from tests.gateway.conftest import Gateway
from tests.gateway.test_tool_webhooks import Receiver, receiver  # noqa: F401
from tests.gateway.ws_helpers import receive

SSE = {"Accept": "text/event-stream"}


def _path(created: dict[str, Any]) -> str:
    return f"/api/v1/sessions/{created['session_id']}/messages"


async def _sse_events(response: aiohttp.ClientResponse) -> list[tuple[str, dict[str, Any]]]:
    """The stream as (event name, data) pairs, read the way an EventSource does."""
    events: list[tuple[str, dict[str, Any]]] = []
    name, data = "message", ""
    async for raw in response.content:
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: "):
            data += line[len("data: ") :]
        elif line == "" and data:
            events.append((name, json.loads(data)))
            name, data = "message", ""
    return events


async def test_a_chat_session_over_rest_alone(gateway: Gateway) -> None:
    created = await gateway.create_session(mode="chat")
    response = await gateway.request("POST", _path(created), json={"text": "Hello"})
    assert response.status == 200, await response.text()
    reply = await response.json()
    assert reply["session_id"] == created["session_id"]
    assert (reply["input"], reply["turn_id"]) == ("Hello", 2)  # the greeting was turn 1
    assert "Hello" in reply["text"] and reply["text"] != "Hello"
    assert isinstance(reply["latency_ms"], int) and reply["tool_calls"] == []
    again = await (await gateway.request("POST", _path(created), json={"text": "Again"})).json()
    assert (again["input"], again["turn_id"]) == ("Again", 3)
    view_path = f"/api/v1/sessions/{created['session_id']}"
    assert (await (await gateway.request("GET", view_path)).json())["status"] == "active"
    ended = await gateway.request("DELETE", view_path)
    assert (await ended.json())["status"] == "ended"
    refused = await gateway.request("POST", _path(created), json={"text": "Still there?"})
    assert refused.status == 409
    await gateway.ctx.transcripts.drain()
    history = (await (await gateway.request("GET", view_path + "?include=history")).json())[
        "history"
    ]
    assert [t["text"] for t in history if t["role"] == "user"] == ["Hello", "Again"]


async def test_the_reply_streams_as_server_sent_events(gateway: Gateway) -> None:
    created = await gateway.create_session(mode="chat")
    response = await gateway.request("POST", _path(created), json={"text": "Stream"}, headers=SSE)
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    events = await _sse_events(response)
    names = [name for name, _ in events]
    assert names[-1] == "turnComplete" and "transcriptionUpdate" in names
    assert all(name == data["type"] for name, data in events)
    deltas = "".join(d["text"] for n, d in events if n == "transcriptionUpdate")
    assert deltas == events[-1][1]["fullOutput"] and events[-1][1]["fullInput"] == "Stream"


async def test_tool_calls_stream_and_message_metadata_reaches_only_its_turn(
    gateway: Gateway,
    receiver: tuple[Receiver, str],  # noqa: F811
) -> None:
    hook, url = receiver
    tools = [{"name": "book", "parameters": {"type": "object"}, "webhook_url": url}]
    assistant_id = await gateway.use_scripted_assistant(tools=tools)
    created = await gateway.create_session(
        assistant_id=assistant_id, mode="chat", metadata={"crm": "A-1"}
    )
    body = {"text": "Book me", "metadata": {"order": 7}}
    posting = asyncio.create_task(gateway.request("POST", _path(created), json=body, headers=SSE))
    await gateway.scripted.connected.wait()
    session = gateway.scripted.sessions[0]
    assert await session.next_text() == "Book me"
    session.emit(ToolCall("c1", "book", {"day": "Mon"}))
    assert (await session.next_tool_result())[0] == "c1"
    session.emit(TranscriptDelta("output", "Booked.", item_id="r1"), ResponseDone("r1"))
    events = await _sse_events(await posting)
    assert [name for name, _ in events] == ["toolCall", "transcriptionUpdate", "turnComplete"]
    assert events[0][1] == {"type": "toolCall", "callId": "c1", "name": "book",
                            "arguments": {"day": "Mon"}}  # fmt: skip
    assert hook.deliveries[0][0]["metadata"] == {"crm": "A-1", "order": 7}

    posting = asyncio.create_task(gateway.request("POST", _path(created), json={"text": "More"}))
    assert await session.next_text() == "More"
    session.emit(ToolCall("c2", "book", {}))
    assert (await session.next_tool_result())[0] == "c2"
    session.emit(TranscriptDelta("output", "Again.", item_id="r2"), ResponseDone("r2"))
    reply = await (await posting).json()
    assert reply["text"] == "Again." and reply["tool_calls"][0]["name"] == "book"
    assert hook.deliveries[1][0]["metadata"] == {"crm": "A-1"}  # the turn's metadata is gone


async def test_rest_and_websocket_do_not_share_a_session(gateway: Gateway) -> None:
    by_socket = await gateway.create_session(mode="chat")
    ws = await gateway.http.ws_connect(by_socket["websocket_url"])
    await receive(ws)
    response = await gateway.request("POST", _path(by_socket), json={"text": "Hi"})
    assert response.status == 409
    assert "WebSocket" in (await response.json())["error"]["message"]
    await ws.close()

    by_rest = await gateway.create_session(mode="chat")
    assert (await gateway.request("POST", _path(by_rest), json={"text": "Hi"})).status == 200
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:  # the token was spent
        await gateway.http.ws_connect(by_rest["websocket_url"])
    assert refused.value.status == 401
    voice = await gateway.create_session(mode="voice")
    assert (await gateway.request("POST", _path(voice), json={"text": "Hi"})).status == 409


async def test_one_message_at_a_time_and_bad_bodies(gateway: Gateway) -> None:
    assistant_id = await gateway.use_scripted_assistant()
    created = await gateway.create_session(assistant_id=assistant_id, mode="chat")
    first = asyncio.create_task(gateway.request("POST", _path(created), json={"text": "One"}))
    await gateway.scripted.connected.wait()
    session = gateway.scripted.sessions[0]
    assert await session.next_text() == "One"
    second = await gateway.request("POST", _path(created), json={"text": "Two"})
    assert second.status == 409
    session.emit(TranscriptDelta("output", "Yes", item_id="r1"), ResponseDone("r1"))
    assert (await (await first).json())["text"] == "Yes"
    for bad in ({}, {"text": ""}, {"text": "x", "extra": 1}):
        assert (await gateway.request("POST", _path(created), json=bad)).status == 422
    other = await gateway.create_key(["sessions:create"])
    response = await gateway.request("POST", _path(created), json={"text": "x"}, key=other)
    assert response.status == 404
