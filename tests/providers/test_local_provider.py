"""The local provider's sessions: chat, greeting, voice loopback, interrupt and close.

Time is a ``VirtualClock``; the ``EventReader`` moves it only while the session waits on it.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kinds.audio import PCMA_8K, PCMU_8K, AudioFormat
from providers.events import (
    AgentAudio,
    CallerSpeechStarted,
    CallerSpeechStopped,
    ProviderEvent,
    ProviderFailed,
    ResponseDone,
    TranscriptDelta,
)
from providers.local import LOCAL_CAPABILITIES, LocalProvider, LocalSession
from providers.local.provider import CHUNK_MS, LEAD_MS
from providers.local.replies import chat_reply
from providers.local.speech import Synthesiser
from providers.spec import AssistantSpec, SessionContext
from tests.providers.local_helpers import (
    BYTES_PER_MS,
    EventReader,
    chunks,
    silence,
    speech_clip,
    tone,
    voiced_span_ms,
)
from tests.virtual_clock import VirtualClock

GREETING = "Hello, you are talking to the Kura demo."


class ToneSynthesiser:
    """A synthesiser that 'speaks' every text as a tone of fixed length."""

    def __init__(self, duration_ms: int = 1000) -> None:
        self.duration_ms = duration_ms
        self.calls: list[tuple[str, str]] = []

    async def synthesise(self, text: str, language_code: str) -> bytes | None:
        self.calls.append((text, language_code))
        return tone(self.duration_ms)


class StuckSynthesiser:
    """A synthesiser that never finishes; records that it was cancelled."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.cancelled = False

    async def synthesise(self, text: str, language_code: str) -> bytes | None:
        self.started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        return None


class BrokenSynthesiser:
    async def synthesise(self, text: str, language_code: str) -> bytes | None:
        raise RuntimeError("bug")


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
async def sessions() -> AsyncIterator[list[LocalSession]]:
    """Sessions made by a test, closed after it whatever happens."""
    made: list[LocalSession] = []
    yield made
    for session in made:
        await session.aclose()


def open_session(
    sessions: list[LocalSession],
    clock: VirtualClock,
    *,
    mode: str = "voice",
    greeting: str | None = None,
    synthesiser: Synthesiser | None = None,
) -> tuple[LocalSession, EventReader]:
    assistant = AssistantSpec(name="demo", greeting=greeting)
    context = SessionContext(session_id="s1", mode="chat" if mode == "chat" else "voice")
    session = LocalSession(assistant, context, clock=clock, synthesiser=synthesiser)
    sessions.append(session)
    return session, EventReader(session, clock)


def text_of(events: list[ProviderEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TranscriptDelta))


def audio_of(events: list[ProviderEvent]) -> bytes:
    return b"".join(e.audio for e in events if isinstance(e, AgentAudio))


async def feed(session: LocalSession, audio: bytes) -> None:
    for frame in chunks(audio):
        await session.send_audio(frame)


def test_capabilities_are_declared() -> None:
    provider = LocalProvider("off")
    assert provider.name == "local"
    for mode in ("voice", "chat"):
        caps = provider.capabilities(mode)
        assert caps is LOCAL_CAPABILITIES
        assert (caps.input_audio.encoding, caps.input_audio.sample_rate_hz) == ("pcm16", 24_000)
        assert caps.output_audio == caps.input_audio
        assert (caps.server_vad, caps.truncation, caps.text_mode) == (True, True, True)
        assert (caps.tools, caps.input_transcription) == (False, False)


async def test_chat_reply_is_deterministic_text_only(
    sessions: list[LocalSession], clock: VirtualClock
) -> None:
    synthesiser = ToneSynthesiser()
    replies = []
    for _ in range(2):
        session, reader = open_session(sessions, clock, mode="chat", synthesiser=synthesiser)
        await session.send_text("What is   the\nweather?")
        events = await reader.until_done()
        assert all(isinstance(e, TranscriptDelta) and e.source == "output" for e in events[:-1])
        done = events[-1]
        assert isinstance(done, ResponseDone) and not done.interrupted
        assert {e.item_id for e in events if isinstance(e, TranscriptDelta)} == {done.item_id}
        replies.append(text_of(events))
    assert replies[0] == replies[1] == chat_reply("What is the weather?")
    assert "local demo" in replies[0] and "What is the weather?" in replies[0]
    assert synthesiser.calls == []  # chat mode never speaks


async def test_each_response_has_its_own_item_id(
    sessions: list[LocalSession], clock: VirtualClock
) -> None:
    session, reader = open_session(sessions, clock, mode="chat", greeting=GREETING)
    await session.send_text("one")
    await session.send_text("two")
    done = [(await reader.until_done())[-1] for _ in range(3)]
    assert len({d.item_id for d in done if isinstance(d, ResponseDone)}) == 3


async def test_greeting_is_written_in_chat_mode(
    sessions: list[LocalSession], clock: VirtualClock
) -> None:
    _, reader = open_session(sessions, clock, mode="chat", greeting=GREETING)
    events = await reader.until_done()
    assert text_of(events) == GREETING
    assert audio_of(events) == b""


async def test_greeting_is_written_in_voice_mode_without_a_synthesiser(
    sessions: list[LocalSession], clock: VirtualClock
) -> None:
    _, reader = open_session(sessions, clock, greeting=GREETING)
    events = await reader.until_done()
    assert text_of(events) == GREETING
    assert audio_of(events) == b""


async def test_greeting_is_spoken_at_real_time_with_a_small_lead(
    sessions: list[LocalSession], clock: VirtualClock
) -> None:
    synthesiser = ToneSynthesiser(duration_ms=1000)
    _, reader = open_session(sessions, clock, greeting=GREETING, synthesiser=synthesiser)
    started_s = clock.monotonic()
    events: list[ProviderEvent] = []
    sent_ms = 0.0
    while not isinstance(event := await reader.next(), ResponseDone):
        assert event is not None
        events.append(event)
        if isinstance(event, AgentAudio):
            chunk_ms = len(event.audio) / BYTES_PER_MS
            assert chunk_ms <= CHUNK_MS and 40 <= CHUNK_MS <= 100
            sent_ms += chunk_ms
            elapsed_ms = (clock.monotonic() - started_s) * 1000
            assert sent_ms - elapsed_ms <= LEAD_MS + 1e-6
    assert synthesiser.calls == [(GREETING, "en-US")]
    assert audio_of(events) == tone(1000)
    assert text_of(events) == GREETING
    # The whole second of audio took about a second (less the lead) of clock time.
    assert (clock.monotonic() - started_s) * 1000 >= 1000 - LEAD_MS - CHUNK_MS


async def test_chat_reply_is_spoken_in_voice_mode(
    sessions: list[LocalSession], clock: VirtualClock
) -> None:
    synthesiser = ToneSynthesiser(duration_ms=300)
    session, reader = open_session(sessions, clock, synthesiser=synthesiser)
    await session.send_text("hello")
    events = await reader.until_done()
    assert text_of(events) == chat_reply("hello")
    assert audio_of(events) == tone(300)


async def test_voice_utterance_is_played_back(
    sessions: list[LocalSession], clock: VirtualClock
) -> None:
    session, reader = open_session(sessions, clock)
    clip = speech_clip()
    await feed(session, silence(500) + clip + silence(1200))

    assert isinstance(await reader.next(), CallerSpeechStarted)
    events = await reader.until_done()
    assert isinstance(events[0], CallerSpeechStopped)  # before the first played-back audio
    done = events[-1]
    assert isinstance(done, ResponseDone) and not done.interrupted
    assert not any(isinstance(e, TranscriptDelta) for e in events)  # never a fake transcript
    assert {e.item_id for e in events if isinstance(e, AgentAudio)} == {done.item_id}
    played_ms = len(audio_of(events)) / BYTES_PER_MS
    speech_ms = voiced_span_ms(clip)
    assert speech_ms <= played_ms <= speech_ms + 800  # plus pre-roll and a short tail


async def test_interrupt_stops_playback_at_once(
    sessions: list[LocalSession], clock: VirtualClock
) -> None:
    session, reader = open_session(sessions, clock)
    await feed(session, silence(300) + speech_clip() + silence(1200))
    assert isinstance(await reader.next(), CallerSpeechStarted)
    assert isinstance(await reader.next(), CallerSpeechStopped)  # its VAD ended the turn
    first = await reader.next()
    assert isinstance(first, AgentAudio)
    # Let the session queue its lead of audio ahead of us, then cut it.
    await asyncio.sleep(0)
    await session.interrupt(played_ms=CHUNK_MS)

    done = await reader.next()
    assert done == ResponseDone(first.item_id, interrupted=True)
    # Nothing more of that item, however long we wait: the next event is a later reply's.
    await clock.advance(5.0)
    await session.send_text("after")
    later = await reader.until_done()
    assert not any(isinstance(e, AgentAudio) for e in later)
    assert text_of(later) == chat_reply("after")


async def test_interrupt_during_synthesis_cancels_it(
    sessions: list[LocalSession], clock: VirtualClock
) -> None:
    synthesiser = StuckSynthesiser()
    session, reader = open_session(sessions, clock, greeting=GREETING, synthesiser=synthesiser)
    await synthesiser.started.wait()
    await session.interrupt()
    event = await reader.next()
    assert isinstance(event, ResponseDone) and event.interrupted
    assert synthesiser.cancelled


async def test_interrupt_when_idle_is_harmless(
    sessions: list[LocalSession], clock: VirtualClock
) -> None:
    session, reader = open_session(sessions, clock)
    await session.interrupt(0)
    await session.interrupt()
    await session.send_text("still here")
    events = await reader.until_done()
    assert text_of(events) == chat_reply("still here")
    assert isinstance(events[-1], ResponseDone) and not events[-1].interrupted


async def test_aclose_ends_iteration_and_leaves_no_tasks(clock: VirtualClock) -> None:
    synthesiser = ToneSynthesiser(duration_ms=5000)
    provider_sessions: list[LocalSession] = []
    session, reader = open_session(
        provider_sessions, clock, greeting=GREETING, synthesiser=synthesiser
    )
    assert isinstance(await reader.next(), TranscriptDelta)  # mid-greeting
    await session.aclose()
    await session.aclose()  # idempotent
    assert await reader.next() is None
    assert asyncio.all_tasks() == {asyncio.current_task()}
    # After close, sending is a documented no-op.
    await session.send_text("ignored")
    await session.send_audio(silence(20))
    await session.interrupt()
    assert await reader.next() is None


async def test_a_synthesiser_bug_fails_the_session(
    sessions: list[LocalSession], clock: VirtualClock
) -> None:
    _, reader = open_session(sessions, clock, greeting=GREETING, synthesiser=BrokenSynthesiser())
    event = await reader.next()
    assert isinstance(event, ProviderFailed) and event.code == "local_internal_error"
    assert await reader.next() is None


async def test_send_tool_result_is_a_no_op(
    sessions: list[LocalSession], clock: VirtualClock
) -> None:
    session, _ = open_session(sessions, clock)
    await session.send_tool_result("call-1", {"ok": True})


# The provider: synthesiser selection, with the real espeak-ng when present.


@pytest.mark.parametrize("command", ["off", "", "/nonexistent/espeak-ng"])
async def test_provider_without_a_synthesiser_writes_its_greeting(
    command: str, clock: VirtualClock
) -> None:
    provider = LocalProvider(command, clock=clock)
    assert provider.speaks is False
    session = await provider.connect(AssistantSpec("demo", greeting=GREETING), SessionContext("s"))
    try:
        events = await EventReader(session, clock).until_done()
        assert text_of(events) == GREETING and audio_of(events) == b""
    finally:
        await session.aclose()


async def test_provider_falls_back_to_text_when_the_command_fails(
    tmp_path: Path, clock: VirtualClock
) -> None:
    script = tmp_path / "broken-tts"
    script.write_text("#!/bin/sh\nexit 1\n")
    script.chmod(0o755)
    provider = LocalProvider(str(script), clock=clock)
    assert provider.speaks is True
    session = await provider.connect(AssistantSpec("demo", greeting=GREETING), SessionContext("s"))
    try:
        events = await EventReader(session, clock).until_done()
        assert text_of(events) == GREETING and audio_of(events) == b""
        assert isinstance(events[-1], ResponseDone) and not events[-1].interrupted
    finally:
        await session.aclose()


@pytest.mark.skipif(
    shutil.which("espeak-ng") is None,
    reason="espeak-ng is not installed (apt install espeak-ng to run this test)",
)
async def test_provider_speaks_its_greeting_with_espeak(clock: VirtualClock) -> None:
    provider = LocalProvider(clock=clock)
    assert provider.speaks is True
    session = await provider.connect(AssistantSpec("demo", greeting=GREETING), SessionContext("s"))
    try:
        events = await EventReader(session, clock).until_done()
        assert text_of(events) == GREETING
        assert len(audio_of(events)) / BYTES_PER_MS > 1000
    finally:
        await session.aclose()


@pytest.mark.parametrize("law", [PCMU_8K, PCMA_8K], ids=["mu_law", "a_law"])
async def test_a_phone_call_session_speaks_its_g711_law_both_ways(law: AudioFormat) -> None:
    from providers.local import LocalProvider
    from providers.spec import AssistantSpec, SessionContext

    provider = LocalProvider("off")
    session = await provider.connect(
        AssistantSpec(name="demo"), SessionContext("s1", input_audio=law, output_audio=law)
    )
    assert session.capabilities.input_audio == law
    assert session.capabilities.output_audio == law
    chat = await provider.connect(
        AssistantSpec(name="demo"),
        SessionContext("s2", mode="chat", input_audio=law, output_audio=law),
    )
    assert chat.capabilities.input_audio.encoding == "pcm16"
    await session.aclose()
    await chat.aclose()


@pytest.mark.parametrize(
    ("law", "quiet"), [(PCMU_8K, b"\xff"), (PCMA_8K, b"\xd5")], ids=["mu_law", "a_law"]
)
async def test_a_call_that_marks_turns_is_played_back_without_a_second_vad(
    clock: VirtualClock, law: AudioFormat, quiet: bytes
) -> None:
    context = SessionContext("s1", input_audio=law, output_audio=law, client_turns=True)
    session = await LocalProvider("off", clock=clock).connect(AssistantSpec(name="d"), context)
    try:
        assert session.capabilities.input_audio == law
        assert not session.capabilities.server_vad  # the caller's turns come from the bridge
        said = bytes(range(256)) * 10  # 320 ms of G.711 the provider must not analyse
        await session.send_audio(quiet * 800 + said[:160])  # 100 ms quiet, then 20 ms
        await session.begin_turn(20)
        await session.send_audio(said[160:] + quiet * 4000)  # then 500 ms of quiet
        await session.end_turn(500)
        events = await EventReader(session, clock).until_done()
        assert isinstance(events[0], CallerSpeechStarted)
        assert not any(isinstance(e, CallerSpeechStopped) for e in events)  # the bridge's turn
        played = b"".join(e.audio for e in events if isinstance(e, AgentAudio))
        # Pre-roll (the 100 ms before the onset), the speech, and the 100 ms tail.
        assert played == quiet * 800 + said + quiet * 800
    finally:
        await session.aclose()


async def test_turn_marks_are_ignored_by_a_session_with_its_own_vad(
    clock: VirtualClock,
) -> None:
    session = await LocalProvider("off", clock=clock).connect(
        AssistantSpec(name="d"), SessionContext("s1")
    )
    try:
        assert session.capabilities.server_vad
        await session.send_audio(silence(500))
        await session.begin_turn(100)
        await session.end_turn(0)
        await session.send_text("still here")
        events = await EventReader(session, clock).until_done()  # no loopback came first
        assert text_of(events) == chat_reply("still here")
        assert not any(isinstance(e, CallerSpeechStarted | AgentAudio) for e in events)
    finally:
        await session.aclose()
