"""App voice sessions on Gemini Live (the self-running protocol fake): ``turnComplete.latencyMs``
for spoken turns, which Gemini's own VAD never reports the end of."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kinds.clock import SystemClock
from providers.gemini_live import GeminiLiveProvider
from providers.registry import ProviderRegistry
from tests.fakes.gemini_live import PATH
from tests.fakes.gemini_live_default import FakeGeminiServer
from tests.gateway.conftest import Gateway, start_gateway
from tests.gateway.ws_helpers import receive, receive_until
from tests.providers.local_helpers import speech_clip

REPLY_DELAY_S = 0.2


@pytest.fixture
async def fake_gemini() -> AsyncIterator[FakeGeminiServer]:
    server = FakeGeminiServer(reply_delay_s=REPLY_DELAY_S)
    await server.start()
    yield server
    await server.stop()
    assert server.invalid == []


@pytest.fixture
async def gemini_gateway(tmp_path: Path, fake_gemini: FakeGeminiServer) -> AsyncIterator[Gateway]:
    url = f"ws://127.0.0.1:{fake_gemini.port}{PATH}"

    def register(registry: ProviderRegistry) -> None:
        registry.register(
            "gemini", lambda: GeminiLiveProvider("test-gemini-key", url, clock=SystemClock())
        )

    async for gw in start_gateway(tmp_path, SystemClock(), register=register):
        yield gw


async def _spoken_turn(gw: Gateway, **assistant: Any) -> dict[str, Any]:
    """One spoken turn of an app on Gemini; its ``turnComplete``."""
    fields = {"name": "Live", "provider": "gemini", **assistant}
    row = await gw.ctx.store.assistants.create(fields, gw.clock.now())
    created = await gw.create_session(assistant_id=row.id, mode="voice")
    ws = await gw.http.ws_connect(created["websocket_url"])
    assert (await receive(ws))["provider"] == "gemini"
    audio = speech_clip() + bytes(48_000)  # the utterance, then a second of silence
    for start in range(0, len(audio), 1920):  # 40 ms chunks
        chunk = base64.b64encode(audio[start : start + 1920]).decode()
        await ws.send_str(json.dumps({"type": "audioChunk", "audio": chunk}))
    turn, seen = await receive_until(ws, "turnComplete")
    assert [m for m in seen if m["type"] == "agentAudioChunk"]
    await ws.close()
    return turn


async def test_gemini_vad_turns_get_a_latency_from_the_gateways_end_of_turn(
    gemini_gateway: Gateway,
) -> None:
    """Gemini's VAD answers the turn and says nothing of its end: the gateway's VAD, run beside
    it on the same audio, marks the end, and the reply is timed from there."""
    turn = await _spoken_turn(gemini_gateway)
    assert turn["fullInput"] == "(caller speech)"
    assert isinstance(turn["latencyMs"], int) and turn["latencyMs"] >= 0


async def test_gateway_turns_on_gemini_time_the_reply_from_activity_end(
    gemini_gateway: Gateway,
) -> None:
    """Server VAD off: the gateway's VAD sends activityStart/activityEnd, and its end of the
    turn is the start of the latency; the fake replies REPLY_DELAY_S after activityEnd."""
    turn = await _spoken_turn(gemini_gateway, turn_detection={"server_vad": False})
    assert isinstance(turn["latencyMs"], int)
    assert turn["latencyMs"] >= REPLY_DELAY_S * 1000 - 5  # never before Gemini could answer
