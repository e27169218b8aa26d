"""A supervisor's whisper reaches Gemini as context with ``turnComplete`` false: no reply."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from providers.gemini_live import GeminiLiveSession
from tests.fakes.gemini_live import FakeGeminiLive, body

OpenSession = Callable[..., Awaitable[GeminiLiveSession]]


async def test_a_note_is_context_without_a_turn(
    fake: FakeGeminiLive, open_session: OpenSession
) -> None:
    session = await open_session(mode="chat")
    conn = fake.connections[0]
    await session.send_note("Offer the premium plan")
    await session.send_text("Hi")
    note = body(await conn.receive("clientContent"))
    assert note["turnComplete"] is False
    assert note["turns"][0]["role"] == "user"
    assert "Offer the premium plan" in note["turns"][0]["parts"][0]["text"]
    assert "supervisor" in note["turns"][0]["parts"][0]["text"]
    turn = body(await conn.receive("clientContent"))
    assert turn["turnComplete"] is True  # only the caller's text asks for a reply
    await session.aclose()
