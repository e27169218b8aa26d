"""Voice and chat turns, the greeting, barge-in truncation and tool calls, against the fake."""

from __future__ import annotations

import dataclasses
import json

import pytest

from kinds.audio import PCM16_24K
from providers.errors import ProviderAuthError
from providers.events import (
    AgentAudio,
    CallerSpeechStarted,
    OutputTruncated,
    ResponseDone,
    ToolCall,
    TranscriptDelta,
)
from providers.openai_realtime import PCMU_8K, OpenAIRealtimeProvider
from providers.spec import AssistantSpec, SessionContext, ToolSpec, TurnDetection
from tests.fakes.openai_realtime import FakeConnection, Script, audio_bytes
from tests.providers.openai.conftest import API_KEY, Events, ServerFactory, make_provider, until
from tests.virtual_clock import VirtualClock

ASSISTANT = AssistantSpec(name="Acme", instructions="Be brief.", provider="openai", voice="marin")
CALLER_AUDIO = b"\x10\x00" * 480  # 20 ms of PCM16 24 kHz


async def test_voice_turn(fake_server: ServerFactory, clock: VirtualClock) -> None:
    async def script(conn: FakeConnection) -> None:
        await conn.session_created()
        await conn.expect("session.update")
        await conn.expect("input_audio_buffer.append")
        await conn.user_turn("What time is it?", deltas=["What time", " is it?"])
        await conn.audio_response("It is noon.", audio_ms=600)

    server = await fake_server(script)
    session = await make_provider(server.url, clock).connect(ASSISTANT, SessionContext("s1"))
    assert session.capabilities.input_audio == PCM16_24K
    assert session.capabilities.server_vad and session.capabilities.truncation
    events = Events(session)
    await session.send_audio(CALLER_AUDIO)
    got = await events.until("response_done")
    await session.aclose()

    conn = server.connections[0]
    assert (conn.model, conn.authorization, conn.beta_header) == (
        "gpt-realtime",
        f"Bearer {API_KEY}",
        None,
    )
    assert conn.received_types()[:2] == ["session.update", "input_audio_buffer.append"]
    assert conn.session["audio"]["output"]["voice"] == "marin"
    assert isinstance(got[0], CallerSpeechStarted)
    heard = [e for e in got if isinstance(e, TranscriptDelta) and e.source == "input"]
    assert [(e.text, e.final) for e in heard] == [
        ("What time", False),
        (" is it?", False),
        ("", True),
    ]
    said = [e for e in got if isinstance(e, TranscriptDelta) and e.source == "output"]
    assert "".join(e.text for e in said) == "It is noon."
    audio = [e for e in got if isinstance(e, AgentAudio)]
    assert b"".join(e.audio for e in audio) == audio_bytes(600)
    assert got[-1] == ResponseDone(audio[0].item_id, interrupted=False)
    assert {e.item_id for e in audio} == {e.item_id for e in said}


async def test_chat_turn_is_text_only(fake_server: ServerFactory, clock: VirtualClock) -> None:
    async def script(conn: FakeConnection) -> None:
        await conn.session_created()
        await conn.expect("session.update")
        created = await conn.expect("conversation.item.create")
        assert created["item"]["content"] == [{"type": "input_text", "text": "Opening hours?"}]
        await conn.expect("response.create")
        await conn.text_response("We open at nine.")

    server = await fake_server(script)
    provider = make_provider(server.url, clock)
    session = await provider.connect(ASSISTANT, SessionContext("s1", mode="chat"))
    assert not session.capabilities.server_vad and session.capabilities.text_mode
    events = Events(session)
    await session.send_text("Opening hours?")
    got = await events.until("response_done")
    await session.aclose()
    assert server.connections[0].session["output_modalities"] == ["text"]
    assert [e.text for e in got if isinstance(e, TranscriptDelta)] == ["We open at nine."]
    assert not any(isinstance(e, AgentAudio) for e in got)


async def test_greeting_is_spoken_first(fake_server: ServerFactory, clock: VirtualClock) -> None:
    greeting = "Thanks for calling Acme, how can I help?"

    async def script(conn: FakeConnection) -> None:
        await conn.session_created()
        await conn.expect("session.update")
        create = await conn.expect("response.create")
        assert greeting in create["response"]["instructions"]
        await conn.audio_response(greeting)

    server = await fake_server(script)
    assistant = AssistantSpec(name="Acme", provider="openai", greeting=greeting)
    session = await make_provider(server.url, clock).connect(assistant, SessionContext("s1"))
    got = await Events(session).until("response_done")
    await session.aclose()
    said = "".join(e.text for e in got if isinstance(e, TranscriptDelta))
    assert said == greeting
    assert server.connections[0].received_types() == ["session.update", "response.create"]


async def test_missing_key_fails_without_a_network_call(
    fake_server: ServerFactory, clock: VirtualClock
) -> None:
    server = await fake_server(lambda conn: conn.session_created())
    provider = OpenAIRealtimeProvider(None, server.url, clock=clock)
    with pytest.raises(ProviderAuthError) as caught:
        await provider.connect(ASSISTANT, SessionContext("s1"))
    assert caught.value.code == "missing_api_key"
    assert server.attempts == 0


# Barge-in: the caller heard `played_ms` of a 1000 ms item; we cut it there, within a 20 ms frame.

SPOKEN = "one two three four five six seven eight nine ten"


def barge_in_script(*, finish_first: bool) -> Script:
    async def script(conn: FakeConnection) -> None:
        await conn.session_created()
        await conn.expect("session.update")
        response = await conn.start_response()
        item_id = await conn.audio_item(response, SPOKEN, audio_ms=1000)
        if finish_first:
            await conn.finish_response(response)
        else:
            await conn.expect("response.cancel")
            # A delta already in flight when the cancel landed: the caller must not hear it.
            ids = {"response_id": response.id, "item_id": item_id, "output_index": 0}
            stray = {"type": "response.output_audio.delta", **ids, "content_index": 0}
            await conn.send({**stray, "delta": "AAAA"})
            await conn.finish_response(response, "cancelled", "client_cancelled")
        await conn.expect("conversation.item.truncate")

    return script


@pytest.mark.parametrize(
    ("played_ms", "audio_end_ms"), [(460, 460), (None, 1000), (5000, 1000), (-5, 0)]
)
async def test_barge_in_truncates_at_the_played_position(
    fake_server: ServerFactory, clock: VirtualClock, played_ms: int | None, audio_end_ms: int
) -> None:
    server = await fake_server(barge_in_script(finish_first=False))
    session = await make_provider(server.url, clock).connect(ASSISTANT, SessionContext("s1"))
    events = Events(session)
    received = 0
    while received < 1000 * 48:
        event = await events.next("agent_audio")
        assert isinstance(event, AgentAudio)
        received += len(event.audio)
    await session.interrupt(played_ms)
    got = await events.until("response_done")
    await until(lambda: "conversation.item.truncate" in server.connections[0].received_types())
    await session.aclose()

    truncate = server.connections[0].received[-1]
    assert truncate["type"] == "conversation.item.truncate"
    assert truncate["content_index"] == 0
    assert abs(truncate["audio_end_ms"] - audio_end_ms) <= 20  # one 20 ms frame
    assert server.connections[0].received_types()[-2:] == [
        "response.cancel",
        "conversation.item.truncate",
    ]
    cut = next(e for e in got if isinstance(e, OutputTruncated))
    assert cut.item_id == truncate["item_id"] and cut.audio_end_ms == truncate["audio_end_ms"]
    assert SPOKEN.startswith(cut.text)
    if audio_end_ms == 460:
        assert cut.text == "one two three four"  # whole words, ~46 % of the text
    assert not any(isinstance(e, AgentAudio) for e in got)  # the stray delta was dropped
    assert got[-1] == ResponseDone(truncate["item_id"], interrupted=True)


async def test_barge_in_after_the_response_finished_only_truncates(
    fake_server: ServerFactory, clock: VirtualClock
) -> None:
    """Audio is generated faster than played: the response is often done when the caller cuts in."""
    server = await fake_server(barge_in_script(finish_first=True))
    session = await make_provider(server.url, clock).connect(ASSISTANT, SessionContext("s1"))
    events = Events(session)
    done = await events.next("response_done")
    await session.interrupt(500)
    cut = await events.next("output_truncated")
    assert isinstance(cut, OutputTruncated)
    await until(lambda: "conversation.item.truncate" in server.connections[0].received_types())
    await session.aclose()
    assert done == ResponseDone(cut.item_id, interrupted=False)
    assert "response.cancel" not in server.connections[0].received_types()


async def test_mulaw_session_truncates_by_mulaw_bytes(
    fake_server: ServerFactory, clock: VirtualClock
) -> None:
    server = await fake_server(barge_in_script(finish_first=True))
    provider = make_provider(server.url, clock)
    session = await provider.connect(
        ASSISTANT, SessionContext("s1"), input_audio=PCMU_8K, output_audio=PCMU_8K
    )
    assert session.capabilities.output_audio == PCMU_8K
    events = Events(session)
    await events.next("response_done")
    await session.send_audio(b"\xff" * 160)
    await session.interrupt(None)
    cut = await events.next("output_truncated")
    await session.aclose()
    assert isinstance(cut, OutputTruncated) and cut.audio_end_ms == 1000
    assert server.connections[0].session["audio"]["input"]["format"] == {"type": "audio/pcmu"}


# Tools.

LOOKUP = ToolSpec(
    "lookup_order",
    "Find an order by number.",
    {"type": "object", "properties": {"order": {"type": "string"}}, "required": ["order"]},
)


async def test_tool_call_round_trip_with_a_holding_line(
    fake_server: ServerFactory, clock: VirtualClock
) -> None:
    async def script(conn: FakeConnection) -> None:
        await conn.session_created()
        update = await conn.expect("session.update")
        assert update["session"]["tools"][0]["name"] == "lookup_order"
        response = await conn.start_response()
        await conn.audio_item(response, "One moment, let me check.", audio_ms=400)
        await conn.function_call(response, "lookup_order", {"order": "42"}, call_id="call_42")
        await conn.finish_response(response)
        output = await conn.expect("conversation.item.create")
        assert output["item"] == {
            "type": "function_call_output",
            "call_id": "call_42",
            "output": '{"status": "shipped"}',
        }
        await conn.expect("response.create")
        await conn.audio_response("Your order has shipped.")

    server = await fake_server(script)
    assistant = AssistantSpec(name="Acme", provider="openai", tools=(LOOKUP,))
    session = await make_provider(server.url, clock).connect(assistant, SessionContext("s1"))
    events = Events(session)
    call = await events.next("tool_call")
    assert call == ToolCall("call_42", "lookup_order", {"order": "42"})
    assert any(isinstance(e, AgentAudio) for e in events.seen)  # the holding line came first
    await events.next("response_done")  # the holding line's turn
    await session.send_tool_result("call_42", {"status": "shipped"})
    got = await events.until("response_done")
    await session.aclose()
    said = "".join(e.text for e in got if isinstance(e, TranscriptDelta))
    assert said == "Your order has shipped."


async def test_parallel_tool_calls_get_one_reply(
    fake_server: ServerFactory, clock: VirtualClock
) -> None:
    async def script(conn: FakeConnection) -> None:
        await conn.session_created()
        await conn.expect("session.update")
        response = await conn.start_response()
        await conn.function_call(response, "lookup_order", {"order": "1"}, call_id="call_1")
        await conn.function_call(response, "lookup_order", {"order": "2"}, call_id="call_2")
        await conn.finish_response(response)
        await conn.expect("response.create")
        await conn.text_response("Both have shipped.")

    server = await fake_server(script)
    assistant = AssistantSpec(name="Acme", provider="openai", tools=(LOOKUP,))
    session = await make_provider(server.url, clock).connect(assistant, SessionContext("s1"))
    events = Events(session)
    first, second = await events.next("tool_call"), await events.next("tool_call")
    await session.send_tool_result("call_1", {"ok": 1})
    await session.send_tool_result("call_2", {"ok": 2})
    await events.next("response_done")
    await session.aclose()
    assert isinstance(first, ToolCall) and isinstance(second, ToolCall)
    assert [first.call_id, second.call_id] == ["call_1", "call_2"]
    types = server.connections[0].received_types()
    assert types.count("response.create") == 1
    outputs = [json.loads(e["item"]["output"]) for e in server.connections[0].received[1:3]]
    assert outputs == [{"ok": 1}, {"ok": 2}]
    # No turn end between the calls and their results: the model had not finished.
    assert not any(isinstance(e, ResponseDone) for e in events.seen[:2])


async def test_without_server_vad_the_gateway_ends_the_turn(
    fake_server: ServerFactory, clock: VirtualClock
) -> None:
    async def script(conn: FakeConnection) -> None:
        await conn.session_created()
        await conn.expect("session.update")
        await conn.expect("input_audio_buffer.append")
        await conn.expect("input_audio_buffer.commit")
        await conn.send({"type": "input_audio_buffer.committed", "item_id": "item_u1"})
        await conn.expect("response.create")
        await conn.audio_response("Noted.", audio_ms=200)

    server = await fake_server(script)
    assistant = dataclasses.replace(ASSISTANT, turn_detection=TurnDetection(server_vad=False))
    session = await make_provider(server.url, clock).connect(
        assistant, SessionContext("s1", client_turns=True)
    )
    assert not session.capabilities.server_vad
    events = Events(session)
    await session.send_audio(CALLER_AUDIO)
    await session.begin_turn(20)  # nothing to send: OpenAI needs only the end
    await session.end_turn(0)
    got = await events.until("response_done")
    await session.aclose()
    assert b"".join(e.audio for e in got if isinstance(e, AgentAudio)) == audio_bytes(200)
    assert server.connections[0].session["audio"]["input"]["turn_detection"] is None
    assert server.invalid_messages() == []


async def test_with_server_vad_turn_marks_send_nothing(
    fake_server: ServerFactory, clock: VirtualClock
) -> None:
    async def script(conn: FakeConnection) -> None:
        await conn.session_created()
        await conn.expect("session.update")
        await conn.expect("input_audio_buffer.append")
        await conn.expect("input_audio_buffer.append")

    server = await fake_server(script)
    # The plan left the turns to OpenAI (client_turns False): stray marks change nothing.
    session = await make_provider(server.url, clock).connect(ASSISTANT, SessionContext("s1"))
    await session.send_audio(CALLER_AUDIO)
    await session.end_turn(0)
    await session.send_audio(CALLER_AUDIO)
    await until(lambda: len(server.connections[0].received_types()) >= 3)
    await session.aclose()
    assert server.connections[0].received_types() == [
        "session.update",
        "input_audio_buffer.append",
        "input_audio_buffer.append",
    ]
