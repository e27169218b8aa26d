"""Session life cycle: closing, task ownership, seeding, secrets."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import aiohttp
import pytest

from providers.events import AgentAudio
from providers.gemini_live import CAPABILITIES, GeminiLiveProvider, GeminiLiveSession
from providers.spec import AssistantSpec, HistoryItem, SessionContext
from tests.fakes.gemini_live import FakeGeminiLive, body
from tests.providers.gemini.conftest import API_KEY, Events, drive
from tests.virtual_clock import VirtualClock

OpenSession = Callable[..., Awaitable[GeminiLiveSession]]


def _client_tasks() -> set[asyncio.Task[object]]:
    """Running tasks minus the fake server's own request handlers, which end on their own
    schedule after the client has gone (they are the server's, not the provider's)."""
    return {
        t
        for t in asyncio.all_tasks()
        if not getattr(t.get_coro(), "__qualname__", "").startswith("RequestHandler.")
    }


def test_capabilities_match_gemini_live() -> None:
    provider = GeminiLiveProvider(API_KEY, clock=VirtualClock())
    caps = provider.capabilities("voice")
    assert (caps.input_audio.encoding, caps.input_audio.sample_rate_hz) == ("pcm16", 16_000)
    assert (caps.output_audio.encoding, caps.output_audio.sample_rate_hz) == ("pcm16", 24_000)
    assert caps.server_vad and caps.tools and caps.text_mode and caps.input_transcription
    assert not caps.truncation
    assert provider.capabilities("chat") == CAPABILITIES
    assert API_KEY not in repr(provider)


async def test_aclose_ends_iteration_cancels_every_task_and_is_idempotent(
    fake: FakeGeminiLive, open_session: OpenSession
) -> None:
    before = _client_tasks()
    session = await open_session()
    events = Events(session)
    reader = asyncio.create_task(events.ended())
    await fake.connections[0].send_audio(b"\x01\x00" * 480)
    await session.aclose()
    await session.aclose()
    assert await reader  # the pending read ends instead of hanging
    await fake.connections[0].wait_closed()
    assert _client_tasks() - before == set()
    await session.send_audio(b"\x00\x00" * 320)
    await session.send_text("ignored")
    await session.interrupt()


async def test_a_session_owns_its_http_client_when_none_is_injected(
    fake: FakeGeminiLive, clock: VirtualClock
) -> None:
    provider = GeminiLiveProvider(API_KEY, fake.url, clock=clock)
    session = await provider.connect(AssistantSpec(name="Ava"), SessionContext(session_id="s"))
    http = session._http  # type: ignore[attr-defined]
    assert isinstance(http, aiohttp.ClientSession) and not http.closed
    await session.aclose()
    assert http.closed


async def test_a_failed_connect_releases_its_own_http_client(
    fake: FakeGeminiLive, clock: VirtualClock
) -> None:
    fake.http_status = 401
    provider = GeminiLiveProvider(API_KEY, fake.url, clock=clock)
    before = _client_tasks()
    task = asyncio.create_task(provider.connect(AssistantSpec(name="A"), SessionContext("s")))
    with pytest.raises(Exception, match="credentials"):
        await drive(clock, task)
    assert _client_tasks() - before - {task} == set()


async def test_history_from_the_context_is_seeded_before_the_greeting(
    fake: FakeGeminiLive, make_provider: Callable[..., GeminiLiveProvider]
) -> None:
    history = (HistoryItem("user", "My order is late."), HistoryItem("assistant", "Sorry!"))
    context = SessionContext(session_id="s", history=history, caller_context="Returning caller.")
    assistant = AssistantSpec(name="Ava", instructions="Be kind.", greeting="Welcome back!")
    session = await make_provider().connect(assistant, context)
    try:
        conn = await fake.next_connection()
        seed, greeting = body(await conn.receive()), body(await conn.receive())
        assert seed["turnComplete"] is False
        assert [t["role"] for t in seed["turns"]] == ["user", "model"]
        assert greeting["turnComplete"] is True and "Welcome back!" in str(greeting)
        assert conn.setup is not None
        instruction = conn.setup["systemInstruction"]["parts"][0]["text"]
        assert instruction == "Be kind.\n\nReturning caller."
    finally:
        await session.aclose()


async def test_the_key_never_reaches_logs(
    fake: FakeGeminiLive, open_session: OpenSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    session = await open_session()
    events = Events(session)
    await fake.connections[0].close(1011, "Internal error")
    second = await fake.next_connection()
    await second.send_audio(b"\x01\x00" * 480)
    assert isinstance(await events.next(), AgentAudio)
    assert caplog.records  # the reconnect was logged ...
    for record in caplog.records:  # ... without the key, in message or fields
        assert API_KEY not in record.getMessage()
        assert API_KEY not in str(record.__dict__)
