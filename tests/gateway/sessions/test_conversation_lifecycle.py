"""How a Conversation ends: timers on the virtual clock (to the exact boundary), limits, the
client's own endings, and a provider that fails or goes away."""

from __future__ import annotations

import pytest

from gateway.sessions.conversation import ConversationLimits
from gateway.sessions.port import (
    CallerAudio,
    CallerText,
    CallerTurnEnded,
    CallerTurnStarted,
    EndAfterResponse,
    EndSession,
)
from gateway.sessions.protocol import ProtocolError, SessionError, SessionTimeout
from gateway.telephony.bridge_ports import call_traits
from gateway.telephony.twilio_codec import CAPABILITIES as TWILIO
from providers.events import AgentAudio, ProviderFailed, ResponseDone, TranscriptDelta
from tests.gateway.sessions.harness import engine, waited

CALL_TRAITS = call_traits(TWILIO)

# Binary fractions, so virtual time lands exactly on each boundary.
JUST_BEFORE_S = 0.25


async def test_idle_timeout_fires_exactly_when_the_quiet_has_lasted() -> None:
    """Port of test_idle_timeout_sends_session_timeout_and_closes."""
    async with engine(limits=ConversationLimits(idle_timeout_s=30)) as h:
        await h.clock.advance(29)
        await h.send(CallerText("still there"))  # activity restarts the count
        await h.clock.advance(30 - JUST_BEFORE_S)
        assert not h.conversation.ended
        assert not any(isinstance(m, SessionTimeout) for m in h.client.messages)
        await h.clock.advance(JUST_BEFORE_S)
        assert await h.ended() == "idle_timeout"
        assert h.client.messages[-1] == SessionTimeout(timeout_seconds=30)


async def test_provider_output_counts_as_activity() -> None:
    async with engine(limits=ConversationLimits(idle_timeout_s=10)) as h:
        await h.clock.advance(8)
        h.provider.emit(TranscriptDelta("output", "Still here.", item_id="a1"))
        await h.settled()
        await h.clock.advance(10 - JUST_BEFORE_S)
        assert not h.conversation.ended
        await h.clock.advance(JUST_BEFORE_S)
        assert await h.ended() == "idle_timeout"


async def test_the_callers_turns_count_as_activity() -> None:
    """A call whose turns the bridge's VAD marks (no provider speech events) stays alive while
    the caller talks."""
    limits = ConversationLimits(idle_timeout_s=10)
    async with engine(traits=CALL_TRAITS, limits=limits) as h:
        await h.clock.advance(8)
        await h.send(CallerTurnStarted(100))
        await h.clock.advance(8)
        await h.send(CallerTurnEnded(0))
        await h.clock.advance(10 - JUST_BEFORE_S)
        assert not h.conversation.ended
        await h.clock.advance(JUST_BEFORE_S)
        assert await h.ended() == "idle_timeout"


async def test_max_duration_ends_at_the_limit_whatever_the_activity() -> None:
    limits = ConversationLimits(idle_timeout_s=120, max_duration_s=60)
    async with engine(limits=limits) as h:
        await h.clock.advance(59)
        await h.send(CallerText("one more thing"))
        await h.clock.advance(1 - JUST_BEFORE_S)
        assert not h.conversation.ended
        await h.clock.advance(JUST_BEFORE_S)
        assert await h.ended() == "max_duration"
        assert not any(isinstance(m, SessionTimeout) for m in h.client.messages)


async def test_max_turns_counts_stored_turns_and_ends_after_the_last() -> None:
    async with engine(limits=ConversationLimits(max_turns=2)) as h:
        await h.send(CallerText("one"))
        h.provider.emit(TranscriptDelta("output", "1", item_id="a1"), ResponseDone("a1"))
        await h.client.turn()
        h.provider.emit(ResponseDone(None))  # nothing said: not a turn
        await h.client.turn()
        await h.settled()
        assert not h.conversation.ended
        await h.send(CallerText("two"))
        h.provider.emit(TranscriptDelta("output", "2", item_id="a2"), ResponseDone("a2"))
        await h.client.turn()
        assert await h.ended() == "max_turns"
        assert h.turns.completed_turns == h.conversation.turns_completed == 2


async def test_end_session_from_the_client_ends_now() -> None:
    async with engine() as h:
        h.provider.emit(AgentAudio(b"\x00\x00" * 480, "a1"))
        await h.client.audio_at_least(960)
        await h.send(EndSession("client_stop"))
        assert await h.ended() == "client_stop"
        assert [(r.role, r.interrupted) for r in h.turns.records] == [("assistant", True)]


async def test_end_after_response_waits_for_the_response() -> None:
    async with engine(traits=CALL_TRAITS) as h:
        h.provider.emit(TranscriptDelta("output", "Transferring you.", item_id="a1"))
        await h.client.until("transcriptionUpdate")
        await h.send(EndAfterResponse("transferred"))
        await h.settled()
        assert not h.conversation.ended
        h.provider.emit(ResponseDone("a1"))
        turn = await h.client.turn()
        assert turn.full_output == "Transferring you."
        assert await h.ended() == "transferred"


async def test_the_first_end_reason_is_the_one_kept() -> None:
    async with engine() as h:
        await h.send(EndSession("client_stop"))
        h.conversation.end("shutdown")
        assert await h.ended() == "client_stop"
        assert h.conversation.end_reason == "client_stop"


async def test_provider_failed_event_is_a_session_error() -> None:
    async with engine() as h:
        h.provider.emit(ProviderFailed("connection_lost", "the provider went away"))
        error, _ = await h.client.until("sessionError")
        assert error == SessionError(error="AI provider error: the provider went away")
        assert await h.ended() == "provider_error"


async def test_provider_iterator_raising_is_a_session_error() -> None:
    async with engine() as h:
        h.provider.fail(RuntimeError("socket torn"))
        error, _ = await h.client.until("sessionError")
        assert error == SessionError(error="the AI provider failed")
        assert await h.ended() == "provider_error"


async def test_provider_iteration_ending_closes_the_session() -> None:
    async with engine() as h:
        h.provider.emit(TranscriptDelta("output", "Bye", item_id="a1"), ResponseDone("a1"))
        await h.client.turn()
        await h.provider.aclose()
        assert await h.ended() == "provider_closed"
        assert not any(isinstance(m, SessionError) for m in h.client.messages)


async def test_audio_in_chat_mode_is_a_protocol_error_and_the_session_goes_on() -> None:
    async with engine(mode="chat") as h:
        with pytest.raises(ProtocolError, match="chat mode"):
            await h.send(CallerAudio(bytes(960)))
        assert h.provider.audio_in == bytearray()
        await h.send(CallerText("typed instead"))
        assert await waited(h.provider.next_text()) == "typed instead"
        assert not h.conversation.ended


async def test_reply_latency_runs_from_the_end_of_the_callers_turn() -> None:
    async with engine(traits=CALL_TRAITS) as h:
        await h.send(CallerTurnEnded(ms_ago=0))
        await h.clock.advance(0.75)
        h.provider.emit(AgentAudio(b"\xff" * 160, "a1"), AgentAudio(b"\xff" * 160, "a1"))
        await h.settled()
        assert h.reply_latencies_s == [0.75]  # measured once, at the first output
        await h.send(CallerText("and a text"))
        await h.clock.advance(0.5)
        h.provider.emit(TranscriptDelta("output", "Sure.", item_id="a2"))
        await h.settled()
        assert h.reply_latencies_s == [0.75, 0.5]
