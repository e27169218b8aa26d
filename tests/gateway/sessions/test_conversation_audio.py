"""Audio in the engine: the plan's routes (at most one conversion per direction, none for a
shared format), barge-in, and who marks the caller's turns."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gateway.api.app_audio import app_traits
from gateway.sessions.conversation import ConversationLimits
from gateway.sessions.plan import AudioRoute
from gateway.sessions.port import CallerAudio, CallerTurnEnded, CallerTurnStarted, Interrupt
from gateway.telephony.bridge_ports import call_traits
from gateway.telephony.twilio_codec import CAPABILITIES as TWILIO
from kinds.audio import PCM16_16K, PCM16_24K, PCMA_8K, PCMU_8K, AudioFormat
from media.formats import convert
from media.g711 import pcm16_to_ulaw
from providers.events import AgentAudio, CallerSpeechStarted, ResponseDone, TranscriptDelta
from providers.spec import AssistantSpec, TurnDetection
from tests.fakes.scripted_provider import CAPABILITIES
from tests.gateway.sessions.harness import engine, waited
from tests.providers.local_helpers import silence, speech_clip, voiced_span_ms

CALL_TRAITS = call_traits(TWILIO)

FRAME_24K = bytes(960)  # 20 ms of PCM16 at 24 kHz
NO_SERVER_VAD = AssistantSpec(
    name="Manual", provider="scripted", turn_detection=TurnDetection(server_vad=False)
)

# --- audio routes ---------------------------------------------------------------------------


async def test_a_shared_format_passes_straight_through_both_ways() -> None:
    async with engine() as h:  # an app on a 24 kHz provider
        assert not h.plan.inbound.converts and not h.plan.outbound.converts
        chunk = bytes(range(256)) * 4
        await h.send(CallerAudio(chunk))
        assert h.provider.audio_chunks[0] is chunk  # not even copied
        agent = b"\x01\x02" * 480
        h.provider.emit(AgentAudio(agent, "a1"), ResponseDone("a1"))
        await h.client.turn()
        assert len(h.client.audio) == 1 and h.client.audio[0][0] is agent
        assert h.client.audio[0][1] == "a1"


async def test_app_audio_is_resampled_once_for_a_16k_provider() -> None:
    """Port of test_audio_is_resampled_once_for_a_16k_provider."""
    capabilities = replace(CAPABILITIES, input_audio=PCM16_16K)
    async with engine(capabilities=capabilities) as h:
        assert (h.plan.inbound.port, h.plan.inbound.provider) == (PCM16_24K, PCM16_16K)
        for _ in range(50):  # one second
            await h.send(CallerAudio(FRAME_24K))
        # One second at 16 kHz is 32,000 bytes, less what the filter still holds (a few ms).
        assert 31_000 <= len(h.provider.audio_in) <= 32_000


async def test_agent_audio_is_resampled_and_its_tail_flushed_at_response_done() -> None:
    capabilities = replace(CAPABILITIES, output_audio=PCM16_16K)
    async with engine(capabilities=capabilities) as h:
        assert (h.plan.outbound.provider, h.plan.outbound.port) == (PCM16_16K, PCM16_24K)
        second_16k = b"\x10\x00" * 16_000
        h.provider.emit(*(AgentAudio(second_16k[i : i + 640], "a1") for i in range(0, 32_000, 640)))
        await h.settled()
        before_done = len(h.client.audio_bytes)
        assert 47_000 <= before_done < 48_000  # the filter holds the last few ms
        h.provider.emit(ResponseDone("a1"))
        await h.client.turn()
        assert abs(len(h.client.audio_bytes) - 48_000) <= 8  # the tail came with the turn
        assert {item for _, item in h.client.audio} == {"a1"}


async def test_an_interrupted_responses_tail_is_dropped() -> None:
    capabilities = replace(CAPABILITIES, output_audio=PCM16_16K)
    async with engine(capabilities=capabilities) as h:
        h.provider.emit(AgentAudio(b"\x10\x00" * 3200, "a1"))
        await h.settled()
        heard = len(h.client.audio_bytes)
        h.provider.emit(ResponseDone("a1", interrupted=True))
        await h.client.turn()
        assert len(h.client.audio_bytes) == heard
        # The next response starts afresh: no stale tail from the cut one.
        h.provider.emit(AgentAudio(b"\x10\x00" * 3200, "a2"), ResponseDone("a2"))
        await h.client.turn()
        assert abs(len(h.client.audio_bytes) - (heard + 9_600)) <= 8  # 200 ms at 24 kHz


async def test_an_app_on_a_ulaw_only_provider_is_converted_by_the_engine() -> None:
    capabilities = replace(CAPABILITIES, input_audio=PCMU_8K, output_audio=PCMU_8K)
    async with engine(capabilities=capabilities) as h:
        assert h.plan.inbound.provider == h.plan.outbound.provider == PCMU_8K
        for _ in range(50):
            await h.send(CallerAudio(FRAME_24K))
        assert 7_800 <= len(h.provider.audio_in) <= 8_000  # one second of 8 kHz µ-law
        assert set(h.provider.audio_in) <= {0xFF, 0x7F}  # silence, encoded
        h.provider.emit(AgentAudio(pcm16_to_ulaw(bytes(1600)), "a1"), ResponseDone("a1"))
        await h.client.turn()
        assert abs(len(h.client.audio_bytes) - 4_800) <= 8  # 100 ms back at 24 kHz PCM16


async def test_a_call_on_a_ulaw_provider_passes_ulaw_through() -> None:
    capabilities = replace(
        CAPABILITIES, other_input_audio=(PCMU_8K,), other_output_audio=(PCMU_8K,)
    )
    async with engine(traits=CALL_TRAITS, capabilities=capabilities) as h:
        assert h.plan.inbound.port == h.plan.inbound.provider == PCMU_8K
        ulaw = b"\x7f\xff" * 80
        await h.send(CallerAudio(ulaw))
        h.provider.emit(AgentAudio(ulaw, "a1"))
        await h.settled()
        assert h.provider.audio_chunks == [ulaw] and h.client.audio == [(ulaw, "a1")]


async def test_a_call_on_a_16k_provider_leaves_the_conversion_to_the_client() -> None:
    """A call's bridge resamples within its own step: the engine converts nothing."""
    capabilities = replace(CAPABILITIES, input_audio=PCM16_16K)
    async with engine(traits=CALL_TRAITS, capabilities=capabilities) as h:
        assert h.plan.inbound.port == h.plan.inbound.provider == PCM16_16K
        chunk = b"\x01\x00" * 320
        await h.send(CallerAudio(chunk))
        assert h.provider.audio_chunks[0] is chunk


# --- barge-in -------------------------------------------------------------------------------


async def test_caller_speech_over_an_apps_response_interrupts_the_provider() -> None:
    """Port of test_caller_speech_interrupts_a_running_response."""
    async with engine() as h:
        h.provider.emit(CallerSpeechStarted())  # nobody is talking over anyone
        await h.settled()
        assert h.provider.interrupts == [] and h.client.speech_started == 1
        h.provider.emit(AgentAudio(b"\x00\x00" * 480, "a1"), CallerSpeechStarted())
        assert await waited(h.provider.next_interrupt()) is None
        h.provider.emit(ResponseDone("a1", interrupted=True), CallerSpeechStarted())
        await h.settled()
        assert h.provider.interrupts == [None]  # the response is over: nothing to cut


async def test_a_client_that_handles_barge_in_is_left_to_it() -> None:
    async with engine(traits=CALL_TRAITS, handles_barge_in=True) as h:
        h.provider.emit(AgentAudio(b"\x00\x00" * 480, "a1"), CallerSpeechStarted())
        await h.settled()
        assert h.client.speech_started == 1
        assert h.provider.interrupts == []
        await h.send(Interrupt(played_ms=340))  # what the client does instead
        assert h.provider.interrupts == [340]


async def test_interrupt_passes_the_played_position() -> None:
    async with engine() as h:
        await h.send(Interrupt(played_ms=120))
        await h.send(Interrupt())
        assert h.provider.interrupts == [120, None]


async def test_an_interrupt_counts_as_activity() -> None:
    async with engine(limits=ConversationLimits(idle_timeout_s=10)) as h:
        await h.clock.advance(9)
        await h.send(Interrupt(played_ms=0))
        await h.clock.advance(9.75)
        assert not h.conversation.ended
        await h.clock.advance(0.25)
        assert await h.ended() == "idle_timeout"


# --- turn marks -----------------------------------------------------------------------------


async def test_client_turns_reach_the_provider_when_the_plan_gives_them_to_the_client() -> None:
    async with engine(traits=CALL_TRAITS, assistant=NO_SERVER_VAD) as h:
        assert h.plan.turns == "client" and h.provider.context.client_turns
        await h.send(CallerTurnStarted(ms_ago=120))
        await h.send(CallerTurnEnded(ms_ago=500))
        assert h.provider.turn_marks == [("begin", 120), ("end", 500)]


async def test_client_turns_are_not_forwarded_when_the_provider_finds_them() -> None:
    async with engine(traits=CALL_TRAITS) as h:
        assert h.plan.turns == "provider" and not h.provider.context.client_turns
        await h.send(CallerTurnStarted(ms_ago=120))
        await h.send(CallerTurnEnded(ms_ago=500))
        assert h.provider.turn_marks == []


async def test_a_provider_vad_on_this_machine_yields_to_the_clients() -> None:
    capabilities = replace(CAPABILITIES, vad_runs_locally=True)
    async with engine(traits=CALL_TRAITS, capabilities=capabilities) as h:
        assert h.plan.turns == "client"
        await h.send(CallerTurnEnded(ms_ago=300))
        assert h.provider.turn_marks == [("end", 300)]


async def test_the_gateway_marks_an_apps_turns_when_the_provider_vad_is_off() -> None:
    """The engine runs the TurnMarker on the app's audio (port of the gateway-turns cases)."""
    clip = speech_clip()
    audio = silence(500) + clip + silence(1500)
    async with engine(assistant=NO_SERVER_VAD, silence_ms=500) as h:
        assert h.plan.turns == "gateway" and h.provider.context.client_turns
        fed_ms_at_mark: list[int] = []  # how much audio was fed when each mark came
        for start in range(0, len(audio), 1920):  # 40 ms chunks
            await h.send(CallerAudio(audio[start : start + 1920]))
            new_marks = len(h.provider.turn_marks) - len(fed_ms_at_mark)
            fed_ms_at_mark += [(start + 1920) // 48] * new_marks
        assert bytes(h.provider.audio_in) == audio  # the audio itself goes on untouched
        assert [edge for edge, _ in h.provider.turn_marks] == ["begin", "end"]
        (_, began_ago), (_, ended_ago) = h.provider.turn_marks
        began_at = fed_ms_at_mark[0] - began_ago
        ended_at = fed_ms_at_mark[1] - ended_ago
        assert 450 <= began_at <= 800  # within the VAD's judgement of quiet speech
        speech_ms = voiced_span_ms(clip)
        assert began_at + speech_ms - 200 <= ended_at <= began_at + speech_ms + 300


@pytest.mark.parametrize(
    ("port", "provider_input"),
    [(PCMU_8K, PCMU_8K), (PCMU_8K, PCM16_16K), (PCM16_16K, PCM16_24K), (PCMA_8K, PCM16_24K)],
    ids=["mulaw-passthrough", "mulaw-to-16k", "16k-to-24k", "alaw-to-24k"],
)
async def test_the_gateway_marks_turns_in_any_app_format(
    port: AudioFormat, provider_input: AudioFormat
) -> None:
    """The marker reads the audio as sent to the provider: converted once, or G.711 passed
    through (decoded for the VAD alone)."""
    capabilities = replace(CAPABILITIES, input_audio=provider_input)
    said = convert(silence(500) + speech_clip() + silence(1500), PCM16_24K, port)
    chunk = 40 * port.bytes_per_ms
    async with engine(
        traits=app_traits(port), capabilities=capabilities, assistant=NO_SERVER_VAD
    ) as h:
        assert h.plan.turns == "gateway" and h.plan.inbound == AudioRoute(port, provider_input)
        for start in range(0, len(said), chunk):
            await h.send(CallerAudio(said[start : start + chunk]))
        assert [edge for edge, _ in h.provider.turn_marks] == ["begin", "end"]
        sent_ms = len(h.provider.audio_in) / provider_input.bytes_per_ms
        assert abs(sent_ms - len(said) / port.bytes_per_ms) < 5


async def test_gateway_turn_marks_send_the_next_turns_speech_to_the_next_turn() -> None:
    async with engine(assistant=NO_SERVER_VAD) as h:
        h.provider.emit(
            AgentAudio(b"\x00\x00" * 480, "a1"), TranscriptDelta("output", "A long answer")
        )
        await h.settled()
        for start in range(0, len(speech_clip()), 1920):
            await h.send(CallerAudio(speech_clip()[start : start + 1920]))
        assert h.provider.turn_marks[0][0] == "begin"  # the caller talks over the answer
        h.provider.emit(TranscriptDelta("input", "Hold on"), ResponseDone("a1", True))
        first = await h.client.turn()
        assert first.full_input == ""
        h.provider.emit(TranscriptDelta("output", "Sure.", item_id="a2"), ResponseDone("a2"))
        assert (await h.client.turn()).full_input == "Hold on"


async def test_chat_has_no_turn_marks() -> None:
    async with engine(assistant=NO_SERVER_VAD, mode="chat") as h:
        assert h.plan.turns == "none" and not h.provider.context.client_turns
        await h.send(CallerTurnStarted(ms_ago=0))
        assert h.provider.turn_marks == []
