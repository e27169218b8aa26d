"""The greeting cache: the first call keeps the greeting its provider said, later calls hear it
at once while the provider connects (told the greeting was said), barge-in cuts it where the
caller stopped hearing it, and the transcript has it once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from gateway.api.session_socket import APP_TRAITS
from gateway.sessions.conversation import Conversation, ConversationLimits
from gateway.sessions.greeting_cache import (
    GreetingCache,
    GreetingKey,
    config_digest,
    said_verbatim,
)
from gateway.sessions.greeting_recorder import GreetingRecorder
from gateway.sessions.greeting_replay import ReplayedGreeting, connect_greeting, heard_words
from gateway.sessions.port import Interrupt
from gateway.sessions.protocol import TurnComplete
from kinds.audio import PCM16_24K, PCMU_8K
from providers.base import ProviderSession
from providers.errors import ProviderUnavailable
from providers.events import (
    AgentAudio,
    OutputTruncated,
    ProviderEvent,
    ProviderFailed,
    ResponseDone,
    TranscriptDelta,
)
from providers.spec import AssistantSpec, HistoryItem, SessionContext
from tests.fakes.scripted_provider import CAPABILITIES, ScriptedProvider, ScriptedSession
from tests.gateway.sessions.harness import MemoryTurns, RecordingClient, make_plan, waited
from tests.virtual_clock import VirtualClock

GREETING = "Hello, Acme here. How can I help?"
SEEDABLE = replace(CAPABILITIES, history_window=True)
SPEC = AssistantSpec(name="Acme", provider="scripted", voice="alloy", greeting=GREETING)
CONTEXT = SessionContext(session_id="s1", input_audio=PCM16_24K, output_audio=PCM16_24K)
ONE_SECOND = b"\x01\x00" * 24_000  # PCM16 24 kHz


class GatedProvider(ScriptedProvider):
    """Connects only once ``gate`` is set: a provider that takes its time."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(capabilities=SEEDABLE, **kwargs)  # type: ignore[arg-type]
        self.gate = asyncio.Event()
        self.specs: list[tuple[AssistantSpec, SessionContext]] = []

    async def connect(self, assistant: AssistantSpec, context: SessionContext) -> ProviderSession:
        self.specs.append((assistant, context))
        await self.gate.wait()
        return await super().connect(assistant, context)


def key(text: str = GREETING) -> GreetingKey:
    return GreetingKey("scripted", None, "alloy", text, PCM16_24K, config_digest(SPEC))


def greeting_said(text: str = GREETING, *, interrupted: bool = False) -> list[ProviderEvent]:
    half = len(ONE_SECOND) // 2
    return [
        AgentAudio(ONE_SECOND[:half], "item_1"),
        TranscriptDelta("output", text, "item_1"),
        AgentAudio(ONE_SECOND[half:], "item_1"),
        ResponseDone("item_1", interrupted=interrupted),
    ]


async def take(session: ProviderSession, count: int) -> list[ProviderEvent]:
    events: list[ProviderEvent] = []
    iterator = aiter(session)
    while len(events) < count:
        events.append(await waited(anext(iterator)))
    return events


async def cold_call(cache: GreetingCache, script: list[ProviderEvent]) -> ScriptedSession:
    provider = ScriptedProvider(capabilities=SEEDABLE)
    session = await connect_greeting(cache, provider, SPEC, CONTEXT)
    assert isinstance(session, GreetingRecorder)
    provider.sessions[0].emit(*script)
    await take(session, len(script))
    return provider.sessions[0]


def test_said_verbatim_ignores_case_and_punctuation() -> None:
    assert said_verbatim(GREETING, " hello acme here how can i help")
    assert not said_verbatim(GREETING, "Hi, Acme here. How can I help?")
    assert not said_verbatim(GREETING, "")


def test_cache_keeps_at_most_its_bytes_least_recent_out_first() -> None:
    cache = GreetingCache(3 * len(ONE_SECOND))
    for text in ("one", "two", "three"):
        assert cache.put(key(text), [ONE_SECOND]) is not None
    assert cache.get(key("one")) is not None  # now the most recent
    cache.put(key("four"), [ONE_SECOND])
    assert cache.get(key("two")) is None
    assert cache.get(key("one")) is not None and cache.get(key("four")) is not None
    assert cache.size_bytes == 3 * len(ONE_SECOND)
    assert cache.put(key("huge"), [ONE_SECOND] * 4) is None  # larger than the whole cache


def test_heard_words_follow_the_played_share_of_the_audio() -> None:
    cache = GreetingCache(10 * len(ONE_SECOND))
    greeting = cache.put(key(), [ONE_SECOND])
    assert greeting is not None and greeting.duration_ms == 1000
    assert heard_words(greeting, 0) == ""
    assert heard_words(greeting, 500) == "Hello, Acme here."
    assert heard_words(greeting, 5000) == GREETING


async def test_the_first_call_keeps_a_greeting_said_word_for_word() -> None:
    cache = GreetingCache(10 * len(ONE_SECOND))
    await cold_call(cache, greeting_said())
    cached = cache.get(key())
    assert cached is not None
    assert b"".join(cached.chunks) == ONE_SECOND and cached.text == GREETING


@pytest.mark.parametrize(
    "script",
    [
        greeting_said("Hi there, this is Acme, what can I do?"),  # paraphrased
        greeting_said(interrupted=True),  # generation cut: the audio is incomplete
    ],
)
async def test_a_greeting_not_said_in_full_word_for_word_is_not_kept(
    script: list[ProviderEvent],
) -> None:
    cache = GreetingCache(10 * len(ONE_SECOND))
    await cold_call(cache, script)
    assert cache.get(key()) is None


async def test_a_warm_call_hears_the_greeting_before_its_provider_connects() -> None:
    cache = GreetingCache(10 * len(ONE_SECOND))
    cache.put(key(), [ONE_SECOND[:24_000], ONE_SECOND[24_000:]])
    provider = GatedProvider()
    session = await waited(connect_greeting(cache, provider, SPEC, CONTEXT))
    assert isinstance(session, ReplayedGreeting)
    events = await take(session, 4)
    assert [type(e) for e in events] == [AgentAudio, AgentAudio, TranscriptDelta, ResponseDone]
    assert b"".join(e.audio for e in events if isinstance(e, AgentAudio)) == ONE_SECOND
    await session.send_audio(b"early")  # the caller talks while the provider connects
    asked, seeded = provider.specs[0]
    assert asked.greeting is None  # it must not say the greeting again ...
    assert seeded.history == (HistoryItem("assistant", GREETING),)  # ... and knows it was said
    provider.gate.set()
    await session.send_audio(b"later")  # before or after the connect: in order either way
    await waited(provider.connected.wait())
    scripted = provider.sessions[0]
    assert await waited(scripted.audio_at_least(10)) == b"earlylater"
    scripted.emit(AgentAudio(b"reply", "item_9"))
    assert await take(session, 1) == [AgentAudio(b"reply", "item_9")]
    await session.aclose()
    assert scripted.closed.is_set()


async def test_barge_in_on_a_replayed_greeting_cuts_it_where_the_caller_stopped_hearing() -> None:
    cache = GreetingCache(10 * len(ONE_SECOND))
    cache.put(key(), [ONE_SECOND])
    provider = GatedProvider()
    session = await connect_greeting(cache, provider, SPEC, CONTEXT)
    await take(session, 3)
    await session.interrupt(500)
    (truncated,) = await take(session, 1)
    assert isinstance(truncated, OutputTruncated)
    assert (truncated.audio_end_ms, truncated.text) == (500, "Hello, Acme here.")
    provider.gate.set()
    await session.send_text("hi")  # waits for the connect
    scripted = provider.sessions[0]
    assert scripted.notes == ["The caller interrupted your greeting; they heard only: "
                              "'Hello, Acme here.'."]  # fmt: skip
    assert scripted.interrupts == []  # the provider had nothing of its own to cut
    await session.interrupt(100)  # a later barge-in is the provider's again
    assert scripted.interrupts == [100]
    await session.aclose()


async def test_a_connect_that_fails_after_the_replay_is_a_provider_failure() -> None:
    cache = GreetingCache(10 * len(ONE_SECOND))
    cache.put(key(), [ONE_SECOND])
    provider = GatedProvider(fail_with=ProviderUnavailable("down", code="unreachable"))
    session = await connect_greeting(cache, provider, SPEC, CONTEXT)
    provider.gate.set()
    events = await take(session, 4)
    assert events[-1] == ProviderFailed("unreachable", "down", True)
    await session.aclose()


async def test_providers_that_cannot_be_seeded_and_other_formats_connect_as_before() -> None:
    cache = GreetingCache(10 * len(ONE_SECOND))
    cache.put(key(), [ONE_SECOND])
    local = ScriptedProvider()  # no history seeding: it greets as it always did
    assert isinstance(await connect_greeting(cache, local, SPEC, CONTEXT), ScriptedSession)
    phone = replace(CONTEXT, output_audio=PCMU_8K)  # another format: another entry
    seedable = ScriptedProvider(capabilities=SEEDABLE)
    assert isinstance(await connect_greeting(cache, seedable, SPEC, phone), GreetingRecorder)


class AmendedTurns(MemoryTurns):
    """Turns in memory that say when one was amended (cut where the caller stopped hearing)."""

    def __init__(self) -> None:
        super().__init__()
        self.amended = asyncio.Event()

    def amend(self, seq: int, text: str) -> None:
        super().amend(seq, text)
        self.amended.set()


@contextlib.asynccontextmanager
async def conversation_on(session: ProviderSession) -> AsyncIterator[
    tuple[Conversation, RecordingClient, AmendedTurns]
]:  # fmt: skip
    plan = make_plan(APP_TRAITS, SEEDABLE, SPEC, "voice")
    client = RecordingClient(APP_TRAITS)
    client.clock = clock = VirtualClock()
    turns = AmendedTurns()
    conversation = Conversation(
        provider=session,
        client=client,
        plan=plan,
        clock=clock,
        limits=ConversationLimits(),
        turns=turns,
        greeting=True,
    )
    run = asyncio.create_task(conversation.run())
    try:
        yield conversation, client, turns
    finally:
        run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run
        await session.aclose()


async def test_the_engine_plays_and_records_a_replayed_greeting_once() -> None:
    cache = GreetingCache(10 * len(ONE_SECOND))
    cache.put(key(), [ONE_SECOND])
    provider = GatedProvider()
    session = await connect_greeting(cache, provider, SPEC, CONTEXT)
    async with conversation_on(session) as (conversation, client, turns):
        done, _ = await waited(client.until("turnComplete"))
        assert isinstance(done, TurnComplete)
        assert client.audio_bytes == ONE_SECOND
        assert turns.transcript() == [("assistant", GREETING)]
        await conversation.receive(Interrupt(played_ms=500))
        await waited(turns.amended.wait())
        assert turns.transcript() == [("assistant", "Hello, Acme here.")]


async def test_a_provider_session_that_breaks_behind_the_replay_is_a_failure() -> None:
    cache = GreetingCache(10 * len(ONE_SECOND))
    cache.put(key(), [ONE_SECOND])
    provider = GatedProvider()
    session = await connect_greeting(cache, provider, SPEC, CONTEXT)
    provider.gate.set()
    await waited(provider.connected.wait())
    provider.sessions[0].fail(RuntimeError("broken"))
    events = await take(session, 4)
    assert events[-1] == ProviderFailed("internal_error", "provider session failed")
    await session.aclose()
