"""The CallBridge driven through the carrier seam by a fake carrier and a fake conversation."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiohttp import WSMsgType

from gateway.sessions.plan import AudioRoute, SessionPlan
from gateway.sessions.port import (
    CallerAudio,
    CallerDigit,
    CallerTurnStarted,
    EndSession,
    Interrupt,
)
from gateway.sessions.protocol import SessionError, TurnComplete
from gateway.telephony import bridge as bridge_module
from gateway.telephony.bridge import CallBridge
from gateway.telephony.call_audio import apology_audio, apology_ulaw
from gateway.telephony.carriers.events import ClearAudio, PlaceMark, PlayAudio
from kinds.audio import PCM16_8K, PCM16_16K, PCM16_24K, PCMA_8K, PCMU_8K, AudioFormat
from tests.gateway.telephony.carrier_fakes import (
    FakeCodec,
    FakeConversation,
    FakeSocket,
    capabilities,
    speech_in,
    speech_ulaw,
)
from tests.virtual_clock import VirtualClock

ULAW_PLAN = SessionPlan(
    "voice", AudioRoute(PCMU_8K, PCMU_8K), AudioRoute(PCMU_8K, PCMU_8K), "client"
)
AGENT_ULAW_1S = b"\x10" * 8000  # loud enough to be "audible"; a mark every 100 ms


@dataclass
class Call:
    bridge: CallBridge
    socket: FakeSocket
    codec: FakeCodec
    conversation: FakeConversation
    clock: VirtualClock
    reader: asyncio.Task[None]


def _plan(inbound: AudioFormat, outbound: AudioFormat | None = None) -> SessionPlan:
    """A plan whose ports are these formats (the provider's side is the same: no engine step)."""
    outbound = outbound or inbound
    return SessionPlan(
        "voice", AudioRoute(inbound, inbound), AudioRoute(outbound, outbound), "client"
    )


async def _open(
    frames: str = "text", plan: SessionPlan = ULAW_PLAN, audio: AudioFormat = PCMU_8K
) -> AsyncIterator[Call]:
    socket, codec, conversation, clock = (
        FakeSocket(),
        FakeCodec(),
        FakeConversation(),
        VirtualClock(),
    )
    caps = capabilities(frames, audio=audio)
    bridge = CallBridge(socket, codec, caps, clock=clock)  # type: ignore[arg-type]
    bridge.session_planned(plan)
    reader = asyncio.create_task(bridge.read_carrier(conversation))
    yield Call(bridge, socket, codec, conversation, clock, reader)
    socket.hang_up()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(reader, 2)


@pytest.fixture
async def call() -> AsyncIterator[Call]:
    async for opened in _open():
        yield opened


@pytest.fixture
async def binary_call() -> AsyncIterator[Call]:
    async for opened in _open("binary"):
        yield opened


def test_traits_come_from_the_carrier_capabilities() -> None:
    bridge = CallBridge(FakeSocket(), FakeCodec(), capabilities())  # type: ignore[arg-type]
    assert bridge.traits.audio == PCMU_8K
    assert bridge.traits.answers == {"end_call", "transfer_call"}
    ulaw_16k = AudioFormat("pcmu", 16_000)  # no carrier sends it; the chains do not carry it
    for unsupported in (capabilities(audio=ulaw_16k), capabilities(marks=False)):
        with pytest.raises(ValueError):
            CallBridge(FakeSocket(), FakeCodec(), unsupported)  # type: ignore[arg-type]


async def test_caller_audio_passes_through_to_the_conversation(call: Call) -> None:
    call.socket.feed("media:" + "ff" * 160)
    audio = await call.conversation.wait_for(CallerAudio)
    assert audio.audio == b"\xff" * 160
    assert call.bridge.counters.frames_in == 1


async def test_caller_audio_is_converted_to_the_planned_rate() -> None:
    plan = SessionPlan("voice", AudioRoute(PCM16_16K, PCM16_16K), ULAW_PLAN.outbound, "client")
    async for call in _open(plan=plan):
        call.socket.feed("media:" + "ff" * 160)
        audio = await call.conversation.wait_for(CallerAudio)
        assert 0 < len(audio.audio) <= 640  # PCM16 at 16 kHz, less the resampler's delay


async def test_dtmf_reaches_the_conversation(call: Call) -> None:
    call.socket.feed("dtmf:5")
    assert await call.conversation.wait_for(CallerDigit) == CallerDigit("5")


async def test_bad_input_is_counted_and_the_call_goes_on(call: Call) -> None:
    call.socket.feed("nonsense")
    call.socket.feed(b"\x00\x01")  # binary, on a carrier whose frames are text
    call.socket.feed("media:" + "ff" * 160)
    await call.conversation.wait_for(CallerAudio)
    assert call.bridge.counters.bad_input == {"malformed": 1, "binary": 1}
    assert call.bridge.counters.messages_in == 3


async def test_stop_ends_the_session_as_a_hang_up(call: Call) -> None:
    call.socket.feed("stop")
    assert await call.conversation.wait_for(EndSession) == EndSession("caller_hangup")
    await asyncio.wait_for(call.reader, 2)
    assert call.bridge.hung_up


async def test_agent_audio_goes_out_as_frames_each_chunk_then_its_mark(call: Call) -> None:
    await call.bridge.deliver_audio(AGENT_ULAW_1S, "item-1")
    await call.bridge.deliver(TurnComplete(full_input="", full_output=""))
    played = b"".join(c.audio for c in call.codec.of_kind(PlayAudio))
    assert played == AGENT_ULAW_1S
    assert all(len(c.audio) == 160 for c in call.codec.of_kind(PlayAudio))
    assert len(call.codec.of_kind(PlaceMark)) == 10
    assert isinstance(call.codec.sent[-1], PlaceMark)
    assert {opcode for _, opcode in call.socket.frames} == {WSMsgType.TEXT}


async def test_a_binary_carrier_gets_audio_in_binary_frames(binary_call: Call) -> None:
    binary_call.socket.feed(b"\xff" * 160)  # its caller audio arrives binary too
    assert (await binary_call.conversation.wait_for(CallerAudio)).audio == b"\xff" * 160
    await binary_call.bridge.deliver_audio(AGENT_ULAW_1S[:1600], "item-1")
    kinds = {(frame, opcode) for frame, opcode in binary_call.socket.frames}
    assert kinds == {(b"play", WSMsgType.BINARY), (b"mark", WSMsgType.TEXT)}


async def test_barge_in_clears_and_interrupts_at_the_echoed_position(call: Call) -> None:
    await call.bridge.deliver_audio(AGENT_ULAW_1S, "item-1")
    marks = call.codec.of_kind(PlaceMark)
    for mark in marks[:3]:  # the caller has heard 300 ms
        call.socket.feed(f"mark:{mark.name}")
    call.socket.feed("dtmf:1")  # frames are read in order: the marks are in once this is
    await call.conversation.wait_for(CallerDigit)
    assert await call.bridge.caller_speech_started() is True
    assert isinstance(call.codec.sent[-1], ClearAudio)
    assert await call.conversation.wait_for(Interrupt) == Interrupt(300)
    sent = len(call.codec.sent)
    await call.bridge.deliver_audio(AGENT_ULAW_1S, "item-1")  # the rest of the cut item
    assert len(call.codec.sent) == sent  # is never played


async def test_speech_start_with_nothing_playing_is_left_to_the_conversation(call: Call) -> None:
    assert await call.bridge.caller_speech_started() is False
    assert call.codec.of_kind(ClearAudio) == []


async def test_local_vad_barges_in_on_caller_speech(call: Call) -> None:
    await call.bridge.deliver_audio(AGENT_ULAW_1S, "item-1")
    speech = speech_ulaw()
    for start in range(0, len(speech) - 159, 160):
        call.socket.feed("media:" + speech[start : start + 160].hex())
    interrupt = await call.conversation.wait_for(Interrupt)
    assert interrupt == Interrupt(0)  # no mark came back: the caller heard nothing confirmed
    assert call.codec.of_kind(ClearAudio)
    assert call.conversation.of_kind(CallerTurnStarted)


async def test_a_silent_carrier_ends_the_call(call: Call) -> None:
    await call.clock.advance(bridge_module.CARRIER_SILENCE_S)
    assert await call.conversation.wait_for(EndSession) == EndSession("carrier_lost")
    assert call.bridge.hung_up


async def test_a_carrier_still_streaming_keeps_the_call(call: Call) -> None:
    for _ in range(3):
        call.socket.feed("media:" + "ff" * 160)
        await call.clock.advance(bridge_module.CARRIER_SILENCE_S * 0.9)
    assert call.conversation.of_kind(EndSession) == []


async def test_after_a_session_error_the_apology_plays_in_full(call: Call) -> None:
    await call.bridge.deliver(SessionError(error="provider down"))
    call.reader.cancel()  # the session is over: the runner stops the reader, then finish()
    finishing = asyncio.create_task(call.bridge.finish())
    apology = len(apology_ulaw())
    await call.socket.wait_sent(lambda: len(call.codec.of_kind(PlayAudio)) * 160 >= apology)
    assert not finishing.done()  # it waits until the caller has heard it all
    for mark in call.codec.of_kind(PlaceMark):
        call.socket.feed(f"mark:{mark.name}")
    await asyncio.wait_for(finishing, 2)
    played = b"".join(c.audio for c in call.codec.of_kind(PlayAudio))
    assert played[:apology] == apology_ulaw()
    assert len(played) == apology + (-apology % 160)  # the last frame padded with silence


# --- other carrier formats: A-law, L16 (fake carriers with those capability records) ---------


def _feed_frames(call: Call, audio: bytes, fmt: AudioFormat, binary: bool) -> None:
    size = 20 * fmt.bytes_per_ms
    for start in range(0, len(audio) - size + 1, size):
        frame = audio[start : start + size]
        call.socket.feed(frame if binary else "media:" + frame.hex())


@pytest.mark.parametrize(
    ("fmt", "frames"),
    [(PCMA_8K, "text"), (PCM16_8K, "text"), (PCM16_16K, "binary"), (PCM16_24K, "binary")],
    ids=["alaw", "l16_8k", "l16_16k", "l16_24k"],
)
async def test_a_shared_format_passes_through_and_barges_in(fmt: AudioFormat, frames: str) -> None:
    """The provider speaks the carrier's format: caller audio as it came, agent audio only
    framed and marked, and the VAD (run on the decoded audio) still barges in."""
    async for call in _open(frames, _plan(fmt), fmt):
        frame_bytes = 20 * fmt.bytes_per_ms
        agent = speech_in(fmt)[: 50 * frame_bytes]  # one second
        await call.bridge.deliver_audio(agent, "item-1")
        played = b"".join(c.audio for c in call.codec.of_kind(PlayAudio))
        assert played == agent
        assert all(len(c.audio) == frame_bytes for c in call.codec.of_kind(PlayAudio))
        marks = call.codec.of_kind(PlaceMark)
        assert len(marks) == 10
        for mark in marks[:2]:  # the caller has heard 200 ms
            call.socket.feed(f"mark:{mark.name}")
        speech = speech_in(fmt)
        _feed_frames(call, speech, fmt, frames == "binary")
        assert await call.conversation.wait_for(Interrupt) == Interrupt(200)
        assert call.codec.of_kind(ClearAudio)
        first = call.conversation.of_kind(CallerAudio)[0].audio
        assert first == speech[:frame_bytes]  # not decoded, not copied into another format


async def test_an_alaw_call_on_a_pcm_provider_converts_once_each_way() -> None:
    async for call in _open(plan=_plan(PCM16_16K, PCM16_24K), audio=PCMA_8K):
        _feed_frames(call, speech_in(PCMA_8K)[:1600], PCMA_8K, False)
        audio = await call.conversation.wait_for(CallerAudio)
        assert 0 < len(audio.audio) <= 640  # PCM16 at 16 kHz, less the resampler's delay
        await call.bridge.deliver_audio(bytes(2 * 24000), "item-1")  # 1 s of 24 kHz silence
        await call.bridge.deliver(TurnComplete(full_input="", full_output=""))
        played = b"".join(c.audio for c in call.codec.of_kind(PlayAudio))
        assert len(played) == 8000 and set(played) == {0xD5}  # A-law, 8 kHz, silence


@pytest.mark.parametrize(("fmt", "silence"), [(PCMA_8K, 0xD5), (PCM16_24K, 0x00)])
async def test_the_apology_plays_in_the_carriers_format(fmt: AudioFormat, silence: int) -> None:
    async for call in _open(plan=_plan(fmt), audio=fmt):
        await call.bridge.deliver(SessionError(error="provider down"))
        call.reader.cancel()
        finishing = asyncio.create_task(call.bridge.finish())
        apology = apology_audio(fmt)
        assert apology is apology_audio(fmt)  # converted once per format
        assert len(apology) == len(apology_ulaw()) * fmt.bytes_per_ms // 8
        frame_bytes = 20 * fmt.bytes_per_ms
        sent = call.codec.of_kind
        await call.socket.wait_sent(
            lambda: len(sent(PlayAudio)) * frame_bytes >= len(apology)  # noqa: B023 - one call
        )
        for mark in call.codec.of_kind(PlaceMark):
            call.socket.feed(f"mark:{mark.name}")
        await asyncio.wait_for(finishing, 2)
        played = b"".join(c.audio for c in call.codec.of_kind(PlayAudio))
        assert played[: len(apology)] == apology
        assert set(played[len(apology) :]) <= {silence} and len(played) % frame_bytes == 0
