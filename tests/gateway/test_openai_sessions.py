"""App sessions on the OpenAI Realtime provider, end to end against the protocol fake."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kinds.clock import SystemClock
from providers.openai_realtime import OpenAIRealtimeProvider
from providers.registry import ProviderRegistry
from tests.fakes.openai_realtime import FakeRealtimeServer
from tests.gateway.conftest import Gateway, start_gateway
from tests.gateway.ws_helpers import connect, receive, receive_until
from tests.providers.local_helpers import speech_clip


@pytest.fixture
async def openai_gateway(tmp_path: Path, fake_openai: FakeRealtimeServer) -> AsyncIterator[Gateway]:
    def register(registry: ProviderRegistry) -> None:
        registry.register(
            "openai",
            lambda: OpenAIRealtimeProvider("sk-test", fake_openai.url, clock=SystemClock()),
        )

    async for gw in start_gateway(tmp_path, SystemClock(), register=register):
        yield gw


async def _openai_assistant(gw: Gateway) -> int:
    row = await gw.ctx.store.assistants.create(
        {"name": "Realtime", "provider": "openai", "instructions": "Be brief."}, gw.clock.now()
    )
    return row.id


async def test_chat_turn_through_openai(openai_gateway: Gateway) -> None:
    gw = openai_gateway
    created = await gw.create_session(assistant_id=await _openai_assistant(gw), mode="chat")
    ws = await connect(gw, created)
    assert await receive(ws) == {"type": "sessionOpen", "provider": "openai", "mode": "chat"}
    await ws.send_str(json.dumps({"type": "textMessage", "text": "Hi there"}))
    turn, seen = await receive_until(ws, "turnComplete")
    assert turn["fullInput"] == "Hi there"
    assert turn["fullOutput"]
    assert not [m for m in seen if m["type"] == "agentAudioChunk"]
    await ws.close()


async def test_voice_turn_through_openai(openai_gateway: Gateway) -> None:
    gw = openai_gateway
    created = await gw.create_session(assistant_id=await _openai_assistant(gw), mode="voice")
    ws = await connect(gw, created)
    assert (await receive(ws))["provider"] == "openai"
    loud = (3000).to_bytes(2, "little", signed=True) * 480  # 20 ms at 24 kHz
    for chunk in [loud] * 25 + [bytes(960)] * 50:  # half a second of "speech", then silence
        await ws.send_str(
            json.dumps({"type": "audioChunk", "audio": base64.b64encode(chunk).decode()})
        )
    turn, seen = await receive_until(ws, "turnComplete")
    audio = [m for m in seen if m["type"] == "agentAudioChunk"]
    assert audio
    assert turn["fullOutput"]
    assert turn["interrupted"] is False
    await ws.close()


async def test_without_server_vad_the_gateway_ends_an_apps_turn(
    openai_gateway: Gateway, fake_openai: FakeRealtimeServer
) -> None:
    gw = openai_gateway
    row = await gw.ctx.store.assistants.create(
        {"name": "Manual", "provider": "openai", "turn_detection": {"server_vad": False}},
        gw.clock.now(),
    )
    created = await gw.create_session(assistant_id=row.id, mode="voice")
    ws = await connect(gw, created)
    await receive(ws)
    speech = speech_clip() + bytes(48 * 1000)  # the clip, then a second of silence
    for start in range(0, len(speech), 960):
        chunk = base64.b64encode(speech[start : start + 960]).decode()
        await ws.send_str(json.dumps({"type": "audioChunk", "audio": chunk}))
    turn, seen = await receive_until(ws, "turnComplete")
    assert [m for m in seen if m["type"] == "agentAudioChunk"] and turn["fullOutput"]
    conn = fake_openai.connections[0]
    assert conn.session["audio"]["input"]["turn_detection"] is None
    kinds = conn.received_types()
    assert "input_audio_buffer.commit" in kinds
    assert kinds.index("input_audio_buffer.commit") < kinds.index("response.create")
    await ws.close()


async def test_a_mulaw_app_passes_straight_through_openai_g711(
    openai_gateway: Gateway, fake_openai: FakeRealtimeServer
) -> None:
    """µ-law 8 kHz chosen at connect: OpenAI is asked for audio/pcmu both ways and nothing is
    converted; the agent's µ-law comes back to the app as the provider sent it."""
    from kinds.audio import PCM16_24K, PCMU_8K
    from media.formats import convert

    gw = openai_gateway
    created = await gw.create_session(assistant_id=await _openai_assistant(gw), mode="voice")
    ws = await gw.http.ws_connect(created["websocket_url"] + "&encoding=mulaw&sample_rate=8000")
    assert (await receive(ws))["provider"] == "openai"
    loud = convert((3000).to_bytes(2, "little", signed=True) * 480, PCM16_24K, PCMU_8K)
    for chunk in [loud] * 25 + [convert(bytes(960), PCM16_24K, PCMU_8K)] * 50:
        await ws.send_str(
            json.dumps({"type": "audioChunk", "audio": base64.b64encode(chunk).decode()})
        )
    turn, seen = await receive_until(ws, "turnComplete")
    audio = b"".join(base64.b64decode(m["audio"]) for m in seen if m["type"] == "agentAudioChunk")
    assert audio and turn["interrupted"] is False
    session = fake_openai.connections[0].session["audio"]
    assert session["input"]["format"]["type"] == "audio/pcmu"
    assert session["output"]["format"]["type"] == "audio/pcmu"
    sent = [
        base64.b64decode(m["audio"])
        for m in fake_openai.connections[0].received
        if m["type"] == "input_audio_buffer.append"
    ]
    assert b"".join(sent)[: len(loud)] == loud  # the app's bytes, unconverted
    await ws.close()
