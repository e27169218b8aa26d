"""Turn ids, reply latency and duration, and ``turnStarted``, on the virtual clock."""

from __future__ import annotations

import pytest

from gateway.sessions.conversation import ConversationLimits
from gateway.sessions.port import CallerText, CallerTurnEnded, CallerTurnStarted
from gateway.sessions.protocol import TurnStarted
from gateway.telephony.bridge_ports import call_traits
from gateway.telephony.twilio_codec import CAPABILITIES as TWILIO
from providers.events import (
    AgentAudio,
    CallerSpeechStarted,
    CallerSpeechStopped,
    ResponseDone,
    TranscriptDelta,
)
from tests.gateway.sessions.harness import engine, waited

LIMITS = ConversationLimits(idle_timeout_s=3600)


async def test_latency_runs_from_the_callers_text_to_the_first_agent_output() -> None:
    async with engine(mode="chat", limits=LIMITS) as h:
        await h.send(CallerText("Hello"))
        await h.clock.advance(0.35)
        h.provider.emit(TranscriptDelta("output", "Hi", item_id="r1"))
        await h.settled()
        await h.clock.advance(0.5)
        h.provider.emit(TranscriptDelta("output", " there", item_id="r1"), ResponseDone("r1"))
        turn = await h.client.turn()
        assert (turn.turn_id, turn.latency_ms, turn.duration_ms) == (1, 350, 850)
        assert [r.latency_ms for r in h.turns.records] == [None, 350]
        assert [r.turn_id for r in h.turns.records] == [1, 1]
        assert h.turns.records[1].duration_ms == 500


async def test_the_greeting_has_no_latency_and_text_during_it_times_its_own_answer() -> None:
    async with engine(mode="chat", limits=LIMITS) as h:
        h.provider.emit(TranscriptDelta("output", "Welcome", item_id="g"))
        await h.settled()
        await h.clock.advance(0.2)
        await h.send(CallerText("Quick question"))  # typed while the greeting goes on
        await h.clock.advance(0.3)
        h.provider.emit(ResponseDone("g"))
        greeting = await h.client.turn()
        assert (greeting.turn_id, greeting.latency_ms, greeting.duration_ms) == (1, None, 500)
        await h.clock.advance(0.1)
        h.provider.emit(TranscriptDelta("output", "Sure", item_id="a"), ResponseDone("a"))
        answer = await h.client.turn()
        assert (answer.turn_id, answer.full_input, answer.latency_ms) == (2, "Quick question", 400)


async def test_latency_from_the_callers_end_of_turn_with_a_client_vad() -> None:
    async with engine(traits=call_traits(TWILIO), limits=LIMITS) as h:
        await h.send(CallerTurnStarted(ms_ago=0))
        await h.clock.advance(1.0)
        await h.send(CallerTurnEnded(ms_ago=0))
        await h.clock.advance(0.42)
        h.provider.emit(AgentAudio(b"\x00\x00" * 160, "r1"))
        await h.settled()
        await h.clock.advance(0.2)
        h.provider.emit(ResponseDone("r1"))
        turn = await h.client.turn()
        assert (turn.turn_id, turn.latency_ms, turn.duration_ms) == (1, 420, 1620)
        started = [m for m in h.client.messages if isinstance(m, TurnStarted)]
        assert [(m.role, m.turn_id) for m in started] == [("user", 1), ("assistant", 1)]


async def test_turn_ids_count_up_and_turn_started_comes_once_per_role() -> None:
    async with engine(mode="chat", limits=LIMITS) as h:
        for n, text in enumerate(("one", "two", "three"), start=1):
            await h.send(CallerText(text))
            h.provider.emit(
                TranscriptDelta("output", "a", item_id=text),
                TranscriptDelta("output", "b", item_id=text),
                ResponseDone(text),
            )
            turn = await waited(h.client.turn())
            assert turn.turn_id == n
        started = [(m.role, m.turn_id) for m in h.client.messages if isinstance(m, TurnStarted)]
        assert started == [(role, n) for n in (1, 2, 3) for role in ("user", "assistant")]


async def test_latency_from_the_providers_own_end_of_speech() -> None:
    async with engine(limits=LIMITS) as h:
        h.provider.emit(CallerSpeechStarted(), TranscriptDelta("input", "Hi", final=True))
        await h.settled()
        await h.clock.advance(0.8)
        h.provider.emit(CallerSpeechStopped())
        await h.settled()
        await h.clock.advance(0.27)
        h.provider.emit(AgentAudio(b"\x00\x00" * 480, "r1"), ResponseDone("r1"))
        turn = await h.client.turn()
        assert (turn.turn_id, turn.latency_ms, turn.duration_ms) == (1, 270, 1070)
        assert h.reply_latencies_s == [pytest.approx(0.27)]


async def test_latency_from_the_gateways_end_of_turn_beside_a_silent_provider_vad() -> None:
    """A provider VAD that never reports the end of speech (Gemini's): the gateway's VAD finds
    the end in the app's audio and the reply is timed from there; the provider's own VAD keeps
    the turns (no turn marks are sent)."""
    from dataclasses import replace

    from gateway.sessions.port import CallerAudio
    from tests.fakes.scripted_provider import CAPABILITIES
    from tests.providers.local_helpers import silence, speech_clip

    silent_vad = replace(CAPABILITIES, speech_end_events=False)
    async with engine(capabilities=silent_vad, limits=LIMITS, silence_ms=500) as h:
        assert h.plan.turns == "provider" and h.plan.gateway_vad
        audio = speech_clip() + silence(1000)
        for start in range(0, len(audio), 1920):  # 40 ms chunks, then the clock stays put
            await h.send(CallerAudio(audio[start : start + 1920]))
        assert h.provider.turn_marks == []
        await h.clock.advance(0.61)
        h.provider.emit(AgentAudio(b"\x00\x00" * 480, "r1"), ResponseDone("r1"))
        turn = await h.client.turn()
        assert turn.latency_ms == 610
