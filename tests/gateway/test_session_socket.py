"""The session WebSocket: the Kura protocol, bad input, limits and endings."""

from __future__ import annotations

import asyncio
import base64
import json
import wave
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from providers.events import (
    AgentAudio,
    CallerSpeechStarted,
    ResponseDone,
    ToolCall,
    TranscriptDelta,
)
from tests.gateway.conftest import Gateway, start_gateway
from tests.gateway.ws_helpers import closed, connect, receive, receive_until
from tests.virtual_clock import VirtualClock

SPEECH = Path(__file__).parent.parent / "providers" / "data" / "speech_24k.wav"


async def test_chat_round_trip_with_the_local_provider(gateway: Gateway) -> None:
    created = await gateway.create_session(mode="chat")
    ws = await connect(gateway, created)
    assert await receive(ws) == {"type": "sessionOpen", "provider": "local", "mode": "chat"}
    greeting, _ = await receive_until(ws, "turnComplete")
    assert "local demo" in greeting["fullOutput"]
    await ws.send_str(json.dumps({"type": "textMessage", "text": "Hello"}))
    turn, seen = await receive_until(ws, "turnComplete")
    assert turn["fullInput"] == "Hello"
    assert "Hello" in turn["fullOutput"]
    updates = [m for m in seen if m["type"] == "transcriptionUpdate"]
    assert updates and all(m["source"] == "output" for m in updates)
    assert "".join(m["text"] for m in updates) == turn["fullOutput"]
    await ws.send_str(json.dumps({"type": "stopSession"}))
    assert await closed(ws) == 1000
    await gateway.ctx.transcripts.drain()
    view = await (await gateway.request("GET", f"/api/v1/sessions/{created['session_id']}")).json()
    assert view["status"] == "ended"
    assert view["end_reason"] == "client_stop"
    assert view["total_turns"] == 2
    path = f"/api/v1/sessions/{created['session_id']}/transcript"
    turns = (await (await gateway.request("GET", path)).json())["turns"]
    assert [(t["role"], t["text"]) for t in turns][1:] == [
        ("user", "Hello"),
        ("assistant", turn["fullOutput"]),
    ]


def _speech_pcm() -> bytes:
    with wave.open(str(SPEECH), "rb") as clip:
        assert clip.getframerate() == 24_000
        return clip.readframes(clip.getnframes())


async def test_voice_round_trip_plays_the_utterance_back(gateway: Gateway) -> None:
    created = await gateway.create_session(mode="voice")
    ws = await connect(gateway, created)
    assert (await receive(ws))["type"] == "sessionOpen"
    await receive_until(ws, "turnComplete")  # the greeting (text only: synthesiser off)
    pcm = _speech_pcm() + bytes(24_000 * 2)  # the clip, then one second of silence
    frame_bytes = 960 * 2  # 40 ms chunks
    for start in range(0, len(pcm), frame_bytes):
        chunk = base64.b64encode(pcm[start : start + frame_bytes]).decode()
        await ws.send_str(json.dumps({"type": "audioChunk", "audio": chunk}))
    turn, seen = await receive_until(ws, "turnComplete")
    audio = b"".join(base64.b64decode(m["audio"]) for m in seen if m["type"] == "agentAudioChunk")
    speech_s = len(_speech_pcm()) / 48_000
    assert 0.5 * speech_s < len(audio) / 48_000 < speech_s + 1.0
    assert turn["interrupted"] is False
    # The local provider's VAD ended the caller's turn (CallerSpeechStopped): timed from there.
    assert isinstance(turn["latencyMs"], int) and turn["turnId"] == 2
    await ws.close()


async def test_every_bad_input_gets_a_session_error_and_the_session_goes_on(
    gateway: Gateway,
) -> None:
    assistant_id = await gateway.use_scripted_assistant()
    created = await gateway.create_session(assistant_id=assistant_id, mode="voice")
    ws = await connect(gateway, created)
    assert (await receive(ws))["provider"] == "scripted"
    cases = {
        "{not json": "malformed JSON",
        "[1, 2]": "JSON object",
        json.dumps({"type": "dance"}): "unknown message type",
        json.dumps({"audio": "AAAA"}): "unknown message type",
        json.dumps({"type": "audioChunk"}): "audio",
        json.dumps({"type": "audioChunk", "audio": "not base64!"}): "base64",
        json.dumps({"type": "audioChunk", "audio": "AA=="}): "16-bit",
        json.dumps({"type": "textMessage", "text": ""}): "text",
        json.dumps({"type": "interrupt", "playedMs": -5}): "playedMs",
    }
    for raw, expected in cases.items():
        await ws.send_str(raw)
        message = await receive(ws)
        assert message["type"] == "sessionError", raw
        assert expected in message["error"], (raw, message)
    await ws.send_bytes(b"\x00\x01")
    assert "binary" in (await receive(ws))["error"]
    # Still alive: a good frame reaches the provider.
    await ws.send_str(json.dumps({"type": "audioChunk", "audio": "AAAAAA=="}))
    await ws.send_str(json.dumps({"type": "textMessage", "text": "still here?"}))
    session = gateway.scripted.sessions[0]
    for _ in range(100):
        if session.texts:
            break
        await asyncio.sleep(0.01)
    assert session.texts == ["still here?"]
    assert bytes(session.audio_in) == bytes(4)
    await ws.close()


async def test_audio_in_chat_mode_is_refused(gateway: Gateway) -> None:
    created = await gateway.create_session(mode="chat")
    ws = await connect(gateway, created)
    await receive_until(ws, "turnComplete")
    await ws.send_str(json.dumps({"type": "audioChunk", "audio": "AAAA"}))
    message = await receive(ws)
    assert message["type"] == "sessionError"
    assert "chat mode" in message["error"]
    await ws.close()


async def test_oversized_frame_closes_with_1009(gateway: Gateway) -> None:
    created = await gateway.create_session(mode="voice")
    ws = await connect(gateway, created)
    await receive(ws)
    size = gateway.ctx.settings.ws_max_message_bytes + 1024
    await ws.send_str(json.dumps({"type": "audioChunk", "audio": "A" * size}))
    assert await closed(ws) == 1009


async def test_one_connection_per_session_and_the_token_is_single_use(gateway: Gateway) -> None:
    created = await gateway.create_session()
    ws = await connect(gateway, created)
    await receive(ws)
    # The token was spent by the first connection: the same answer as any invalid token.
    with pytest.raises(aiohttp.WSServerHandshakeError) as second:
        await connect(gateway, created)
    assert second.value.status == 401
    await ws.close()
    with pytest.raises(aiohttp.WSServerHandshakeError) as reuse:
        await connect(gateway, created)
    assert reuse.value.status == 401


async def test_a_made_up_token_gets_one_answer_whatever_the_sessions_state(
    gateway: Gateway,
) -> None:
    def forged(created: dict[str, Any]) -> dict[str, Any]:
        url = created["websocket_url"].split("?api_key=")[0] + "?api_key=kura_st_madeup"
        return {**created, "websocket_url": url}

    pending = await gateway.create_session()
    live = await gateway.create_session()
    ended = await gateway.create_session(mode="chat")
    live_ws = await connect(gateway, live)
    ended_ws = await connect(gateway, ended)
    await ended_ws.send_str(json.dumps({"type": "stopSession"}))
    assert await closed(ended_ws) == 1000
    answers = []
    for created in (pending, live, ended):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await connect(gateway, forged(created))
        answers.append(refused.value.status)
    assert answers == [401, 401, 401]
    await live_ws.close()


async def test_wrong_token_and_key_permissions(gateway: Gateway) -> None:
    created = await gateway.create_session()
    base = created["websocket_url"].split("?")[0]
    for credential, status in [
        ("kura_st_wrong", 401),
        ("", 401),
        ("kura_live_" + "z" * 38, 401),
        (await gateway.create_key(["sessions:create"]), 403),
    ]:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await gateway.http.ws_connect(f"{base}?api_key={credential}")
        assert refused.value.status == status, credential
    connector = await gateway.create_key(["sessions:connect"])
    with pytest.raises(aiohttp.WSServerHandshakeError) as not_owner:
        await gateway.http.ws_connect(f"{base}?api_key={connector}")
    assert not_owner.value.status == 404
    view = await (await gateway.request("GET", f"/api/v1/sessions/{created['session_id']}")).json()
    assert view["status"] == "pending"  # refusals did not consume the session


async def test_a_key_with_sessions_connect_may_open_its_own_session(gateway: Gateway) -> None:
    key = await gateway.create_key(["sessions:create", "sessions:connect"])
    created = await gateway.create_session(key=key, mode="chat")
    base = created["websocket_url"].split("?")[0]
    ws = await gateway.http.ws_connect(base, headers={"Authorization": f"Bearer {key}"})
    assert (await receive(ws))["type"] == "sessionOpen"
    await ws.close()


async def test_delete_while_connected_closes_the_socket(gateway: Gateway) -> None:
    assistant_id = await gateway.use_scripted_assistant()
    created = await gateway.create_session(assistant_id=assistant_id)
    ws = await connect(gateway, created)
    await receive(ws)
    response = await gateway.request("DELETE", f"/api/v1/sessions/{created['session_id']}")
    assert response.status == 200
    assert (await response.json())["end_reason"] == "api_delete"
    assert await closed(ws) == 1000
    await asyncio.wait_for(gateway.scripted.sessions[0].closed.wait(), 2)


async def test_provider_events_become_kura_messages_and_stored_turns(gateway: Gateway) -> None:
    assistant_id = await gateway.use_scripted_assistant(max_turns=2)
    created = await gateway.create_session(assistant_id=assistant_id)
    ws = await connect(gateway, created)
    await receive(ws)
    session = gateway.scripted.sessions[0]
    session.emit(
        CallerSpeechStarted(),
        TranscriptDelta("input", "What time"),
        TranscriptDelta("input", " is it?", final=True),
        AgentAudio(b"\x01\x00" * 480, "item1"),
        TranscriptDelta("output", "It is noon.", item_id="item1"),
        ResponseDone("item1"),
    )
    turn, seen = await receive_until(ws, "turnComplete")
    kinds = [m["type"] for m in seen]
    assert kinds == [
        "transcriptionUpdate",
        "transcriptionUpdate",
        "agentAudioChunk",
        "transcriptionUpdate",
        "turnComplete",
    ]
    assert base64.b64decode(seen[2]["audio"]) == b"\x01\x00" * 480
    assert seen[1]["final"] is True and "final" not in seen[3]  # input transcripts only
    assert {k: v for k, v in turn.items() if k != "durationMs"} == {
        "type": "turnComplete",
        "fullInput": "What time is it?",
        "fullOutput": "It is noon.",
        "interrupted": False,
        "turnId": 1,
        "latencyMs": None,  # the provider found the caller's turn: its end was not seen
    }
    assert turn["durationMs"] >= 0
    await ws.send_str(json.dumps({"type": "interrupt", "playedMs": 120}))
    session.emit(AgentAudio(b"\x02\x00" * 480, "item2"), ResponseDone("item2", interrupted=True))
    second, _ = await receive_until(ws, "turnComplete")
    assert second["interrupted"] is True
    assert session.interrupts == [120]
    assert await closed(ws) == 1000  # max_turns=2
    await gateway.ctx.transcripts.drain()
    view = await (await gateway.request("GET", f"/api/v1/sessions/{created['session_id']}")).json()
    assert (view["end_reason"], view["total_turns"]) == ("max_turns", 2)
    path = f"/api/v1/sessions/{created['session_id']}/transcript"
    turns = (await (await gateway.request("GET", path)).json())["turns"]
    assert [(t["role"], t["text"], t["interrupted"]) for t in turns] == [
        ("user", "What time is it?", False),
        ("assistant", "It is noon.", False),
        ("assistant", "", True),
    ]


async def test_end_call_tool_ends_after_the_goodbye(gateway: Gateway) -> None:
    assistant_id = await gateway.use_scripted_assistant()
    created = await gateway.create_session(assistant_id=assistant_id)
    ws = await connect(gateway, created)
    await receive(ws)
    session = gateway.scripted.sessions[0]
    session.emit(ToolCall("call1", "end_session", {}), TranscriptDelta("output", "Goodbye!"))
    await receive_until(ws, "transcriptionUpdate")
    assert await asyncio.wait_for(session.next_tool_result(), 5) == ("call1", {"ok": True})
    session.emit(ResponseDone("bye"))
    await receive_until(ws, "turnComplete")
    assert await closed(ws) == 1000
    view = await (await gateway.request("GET", f"/api/v1/sessions/{created['session_id']}")).json()
    assert view["end_reason"] == "assistant_ended"


async def test_idle_timeout_sends_session_timeout_and_closes(virtual_gateway: Gateway) -> None:
    gw = virtual_gateway
    clock = gw.clock
    assert isinstance(clock, VirtualClock)
    assistant_id = await gw.use_scripted_assistant(idle_timeout_s=30)
    created = await gw.create_session(assistant_id=assistant_id)
    ws = await connect(gw, created)
    await receive(ws)
    await clock.advance(29)
    await ws.send_str(json.dumps({"type": "textMessage", "text": "still there"}))
    for _ in range(100):
        if gw.scripted.sessions[0].texts:
            break
        await asyncio.sleep(0.01)
    await clock.advance(29.5)  # activity reset the timer: 29.5 s < 30 s since the message
    await clock.advance(0.6)
    message = await receive(ws)
    assert message == {"type": "sessionTimeout", "reason": "idle", "timeoutSeconds": 30}
    assert await closed(ws) == 1000
    view = await (await gw.request("GET", f"/api/v1/sessions/{created['session_id']}")).json()
    assert view["end_reason"] == "idle_timeout"


async def test_provider_unavailable_at_connect_is_a_session_error(gateway: Gateway) -> None:
    from providers.errors import ProviderUnavailable

    gateway.scripted.fail_with = ProviderUnavailable("refused")
    assistant_id = await gateway.use_scripted_assistant()
    created = await gateway.create_session(assistant_id=assistant_id)
    ws = await connect(gateway, created)
    message = await receive(ws)
    assert message["type"] == "sessionError"
    assert await closed(ws) == 1011
    view = await (await gateway.request("GET", f"/api/v1/sessions/{created['session_id']}")).json()
    assert view["end_reason"] == "provider_error"


async def test_audio_is_resampled_once_for_a_16k_provider(gateway: Gateway) -> None:
    from dataclasses import replace

    from kinds.audio import PCM16_16K
    from tests.fakes.scripted_provider import CAPABILITIES

    gateway.scripted.declared = replace(CAPABILITIES, input_audio=PCM16_16K)
    assistant_id = await gateway.use_scripted_assistant()
    created = await gateway.create_session(assistant_id=assistant_id)
    ws = await connect(gateway, created)
    await receive(ws)
    chunk = base64.b64encode(bytes(960)).decode()  # 20 ms at 24 kHz
    for _ in range(50):  # one second
        await ws.send_str(json.dumps({"type": "audioChunk", "audio": chunk}))
    await ws.send_str(json.dumps({"type": "textMessage", "text": "sync"}))
    session = gateway.scripted.sessions[0]
    for _ in range(200):
        if session.texts:
            break
        await asyncio.sleep(0.01)
    # One second at 16 kHz is 32,000 bytes, less what the filter still holds (a few ms).
    assert 31_000 <= len(session.audio_in) <= 32_000
    await ws.close()


async def test_caller_speech_interrupts_a_running_response(gateway: Gateway) -> None:
    assistant_id = await gateway.use_scripted_assistant()
    created = await gateway.create_session(assistant_id=assistant_id)
    ws = await connect(gateway, created)
    await receive(ws)
    session = gateway.scripted.sessions[0]
    session.emit(CallerSpeechStarted())  # nobody is talking over anyone: no interrupt
    session.emit(AgentAudio(b"\x00\x00" * 480, "item1"))
    await receive_until(ws, "agentAudioChunk")
    assert session.interrupts == []
    session.emit(CallerSpeechStarted())  # the caller talks over the agent
    for _ in range(200):
        if session.interrupts:
            break
        await asyncio.sleep(0.01)
    assert session.interrupts == [None]
    await ws.close()


async def test_stored_turn_holds_only_what_the_caller_heard(gateway: Gateway) -> None:
    from providers.events import OutputTruncated

    assistant_id = await gateway.use_scripted_assistant()
    created = await gateway.create_session(assistant_id=assistant_id)
    ws = await connect(gateway, created)
    await receive(ws)
    session = gateway.scripted.sessions[0]
    session.emit(
        TranscriptDelta("input", "Tell me a story"),
        AgentAudio(b"\x00\x00" * 4800, "item1"),
        TranscriptDelta("output", "Once upon a time there was a gateway.", item_id="item1"),
        ResponseDone("item1"),
    )
    await receive_until(ws, "turnComplete")
    # Audio outruns playback: the barge-in comes after the response is complete.
    session.emit(OutputTruncated("item1", 900, "Once upon a time"))
    for _ in range(100):  # let the engine take the event before the session ends
        if session._events.empty():
            break
        await asyncio.sleep(0.01)
    await ws.send_str(json.dumps({"type": "stopSession"}))
    await closed(ws)
    await gateway.ctx.transcripts.drain()
    path = f"/api/v1/sessions/{created['session_id']}/transcript"
    turns = (await (await gateway.request("GET", path)).json())["turns"]
    assert [(t["role"], t["text"], t["interrupted"]) for t in turns] == [
        ("user", "Tell me a story", False),
        ("assistant", "Once upon a time", True),
    ]


async def test_text_sent_during_the_greeting_is_paired_with_its_own_answer(
    gateway: Gateway,
) -> None:
    """The Kura docs' Node example sends a textMessage on sessionOpen, while the greeting is
    still streaming: the greeting's turnComplete must not claim that input."""
    assistant_id = await gateway.use_scripted_assistant()
    created = await gateway.create_session(assistant_id=assistant_id, mode="chat")
    ws = await connect(gateway, created)
    await receive(ws)  # sessionOpen
    session = gateway.scripted.sessions[0]
    session.emit(TranscriptDelta("output", "Hello, how can I help?", "greet"))
    await receive_until(ws, "transcriptionUpdate")
    await ws.send_str(json.dumps({"type": "textMessage", "text": "Book a table"}))
    # The text reaches the provider before the greeting ends.
    assert await asyncio.wait_for(session.next_text(), 5) == "Book a table"
    session.emit(ResponseDone("greet"))
    greeting, _ = await receive_until(ws, "turnComplete")
    assert (greeting["fullInput"], greeting["fullOutput"]) == ("", "Hello, how can I help?")
    session.emit(TranscriptDelta("output", "For how many?", "a1"), ResponseDone("a1"))
    answer, _ = await receive_until(ws, "turnComplete")
    assert (answer["fullInput"], answer["fullOutput"]) == ("Book a table", "For how many?")
    await ws.send_str(json.dumps({"type": "stopSession"}))
    assert await closed(ws) == 1000
    await gateway.ctx.transcripts.drain()
    path = f"/api/v1/sessions/{created['session_id']}/transcript"
    turns = (await (await gateway.request("GET", path)).json())["turns"]
    assert [(t["role"], t["text"]) for t in turns] == [
        ("assistant", "Hello, how can I help?"),
        ("user", "Book a table"),
        ("assistant", "For how many?"),
    ]
    view = await (await gateway.request("GET", f"/api/v1/sessions/{created['session_id']}")).json()
    assert view["total_turns"] == 2


async def test_the_session_token_lapses_after_its_ttl(tmp_path: Path) -> None:
    clock = VirtualClock()
    async for gw in start_gateway(tmp_path, clock, session_token_ttl_s=60):
        early = await gw.create_session(mode="chat")
        late = await gw.create_session(mode="chat")
        await clock.advance(59)
        ws = await connect(gw, early)
        assert (await receive(ws))["type"] == "sessionOpen"
        await clock.advance(2)  # 61 s: the session itself would wait 300 s
        with pytest.raises(aiohttp.WSServerHandshakeError) as lapsed:
            await connect(gw, late)
        assert lapsed.value.status == 401
        await ws.close()
