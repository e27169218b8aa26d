"""Caller audio goes to Gemini in messages of ``audio_batch_ms`` when Gemini (or our level gate)
finds the turns; with client-marked turns each chunk goes as it comes."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable

from providers.gemini_live import GeminiLiveProvider, GeminiLiveSession
from tests.fakes.gemini_live import FakeGeminiLive, body

OpenSession = Callable[..., Awaitable[GeminiLiveSession]]
FRAME = (8_000).to_bytes(2, "little", signed=True) * 320  # 20 ms of loud 16 kHz PCM16


async def test_two_frames_make_one_message(
    fake: FakeGeminiLive,
    open_session: OpenSession,
    make_provider: Callable[..., GeminiLiveProvider],
) -> None:
    session = await open_session(provider=make_provider(audio_batch_ms=40))
    conn = fake.connections[0]
    for _ in range(5):
        await session.send_audio(FRAME)
    first = body(await conn.receive("realtimeInput"))["audio"]
    second = body(await conn.receive("realtimeInput"))["audio"]
    await session.send_text("marker")  # everything sent before it has arrived once it has
    await conn.receive("clientContent")
    assert base64.b64decode(first["data"]) == FRAME * 2
    assert base64.b64decode(second["data"]) == FRAME * 2
    assert first["mimeType"] == "audio/pcm;rate=16000"
    assert len(conn.of_kind("realtimeInput")) == 2  # the fifth frame waits for its pair
    assert fake.validation_errors == []
