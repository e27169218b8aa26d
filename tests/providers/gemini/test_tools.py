"""Function calls: ToolCall out, toolResponse back, cancellation honoured."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from providers.events import AgentAudio, ResponseDone, ToolCall, ToolCallsCancelled
from providers.gemini_live import GeminiLiveSession
from providers.spec import ToolSpec
from tests.fakes.gemini_live import FakeGeminiLive, body
from tests.providers.gemini.conftest import Events, QueueSpy

OpenSession = Callable[..., Awaitable[GeminiLiveSession]]

TRANSFER = ToolSpec(
    "transfer_call",
    "Transfer to a human.",
    {"type": "object", "properties": {"reason": {"type": "string"}}, "required": ["reason"]},
)


async def test_tool_call_round_trip(fake: FakeGeminiLive, open_session: OpenSession) -> None:
    session = await open_session(tools=(TRANSFER,))
    events = Events(session)
    conn = fake.connections[0]
    call = {"id": "fc_1", "name": "transfer_call", "args": {"reason": "sales"}}
    await conn.send({"toolCall": {"functionCalls": [call]}})
    assert await events.next() == ToolCall("fc_1", "transfer_call", {"reason": "sales"})

    await session.send_tool_result("fc_1", {"result": "queued"})
    response = body(await conn.receive("toolResponse"))
    assert response == {
        "functionResponses": [
            {"id": "fc_1", "name": "transfer_call", "response": {"result": "queued"}}
        ]
    }
    await conn.send_audio(b"\x01\x00" * 480)
    await conn.send_content(turnComplete=True)
    got = await events.take(2)
    assert isinstance(got[0], AgentAudio) and got[1] == ResponseDone(got[0].item_id)


async def test_cancelled_tool_call_gets_no_response(
    fake: FakeGeminiLive, open_session: OpenSession
) -> None:
    session = await open_session(tools=(TRANSFER,))
    spy = QueueSpy(session)
    conn = fake.connections[0]
    calls = [
        {"id": "fc_1", "name": "transfer_call", "args": {"reason": "a"}},
        {"id": "fc_2", "name": "transfer_call", "args": {"reason": "b"}},
    ]
    await conn.send({"toolCall": {"functionCalls": calls}})
    await conn.send({"toolCallCancellation": {"ids": ["fc_1"]}})
    await conn.send_content(outputTranscription={"text": "marker"})
    await spy.seen(4)  # both calls, the cancellation and the marker
    assert ToolCallsCancelled(("fc_1",)) in spy.events

    await session.send_tool_result("fc_1", {"result": "late"})
    await session.send_tool_result("fc_2", {"result": "ok"})
    await session.send_tool_result("fc_2", {"result": "twice"})  # already answered
    await session.send_text("marker")
    await conn.receive("clientContent")
    responses = [body(m)["functionResponses"][0] for m in conn.of_kind("toolResponse")]
    assert [(r["id"], r["response"]) for r in responses] == [("fc_2", {"result": "ok"})]
