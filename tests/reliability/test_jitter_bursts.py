"""Row 14: a carrier whose frames come with 0-200 ms of jitter and in bursts of 50 loses none of
them, keeps them in order, and the barge-in's ``clear`` still goes out within 100 ms.

The fake carrier paces 20 ms frames as Twilio does, but holds each one back by a random
0-200 ms (frames bunch up behind a late one: TCP keeps them in order), and twice sends 50 at
once, as a carrier catching up after a network stall does. The provider must receive exactly
the audio the caller sent: with the denoiser off, each frame's bytes are known after the
bridge's decode and resample, so a lost, duplicated or reordered frame changes them.
"""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from media.g711 import ulaw_to_pcm16
from media.resample import StreamResampler
from providers.events import AgentAudio, CallerSpeechStarted
from tests.fakes.twilio_media import FakeMediaStream
from tests.gateway.telephony.conftest import FakeTwilio, plain_audio
from tests.gateway.telephony.test_media_stream import (
    AGENT_PCM_100MS,
    SCRIPTED_NUMBER,
    dial,
    provider_session,
    scripted_line,
    until,
)

__all__ = ["plain_audio", "scripted_line"]

FRAME_BYTES = 160  # 20 ms of 8 kHz µ-law
FRAME_S = 0.020
JITTER_S = 0.200  # the row's 0-200 ms
BURST = 50  # the row's burst
CLEAR_WITHIN_S = 0.100  # the row's figure for `clear` on barge-in


def caller_frames(count: int, seed: int) -> list[bytes]:
    """Distinct quiet frames (µ-law codes of the smallest magnitudes: no speech, so no VAD
    barge-in of their own)."""
    rng = random.Random(seed)
    quiet = bytes([*range(0x70, 0x80), *range(0xF0, 0x100)])
    return [bytes(rng.choices(quiet, k=FRAME_BYTES)) for _ in range(count)]


def as_provider_hears(frames: list[bytes]) -> bytes:
    """The frames as the bridge gives them to a 24 kHz provider: decoded, resampled frame by
    frame with one resampler, as the inbound chain does."""
    resampler = StreamResampler(8_000, 24_000)
    return b"".join(resampler.process(ulaw_to_pcm16(frame)) for frame in frames)


async def send_jittered(stream: FakeMediaStream, frames: list[bytes], rng: random.Random) -> None:
    """Frames on a 20 ms clock, each held back by 0-200 ms but never overtaking another."""
    start = time.monotonic()
    for index, frame in enumerate(frames):
        due = start + index * FRAME_S + rng.uniform(0, JITTER_S)
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)  # the carrier's pacing, not a synchronisation
        await stream.send_ulaw(frame)


async def send_burst(stream: FakeMediaStream, frames: list[bytes]) -> None:
    await stream.send_ulaw(b"".join(frames))  # back to back, no pacing


@pytest.mark.slow  # about 1.5 s of real-time pacing
@pytest.mark.usefixtures("plain_audio")
async def test_jittered_and_bursty_frames_all_arrive_in_order_and_clear_is_prompt(
    scripted_line: FakeTwilio,
) -> None:
    rng = random.Random(14)
    frames = caller_frames(30 + BURST + 20 + BURST, seed=14)
    stream = await dial(scripted_line, SCRIPTED_NUMBER)
    session = await provider_session(scripted_line.gateway)
    await send_jittered(stream, frames[:30], rng)
    await send_burst(stream, frames[30 : 30 + BURST])
    session.emit(AgentAudio(AGENT_PCM_100MS * 20, "item1"))  # 2 s of agent speech
    await stream.wait_for_audio(8_000)
    await send_jittered(stream, frames[30 + BURST : 30 + BURST + 20], rng)
    # The caller talks over the agent while the carrier catches up with a burst.
    burst = asyncio.create_task(send_burst(stream, frames[30 + BURST + 20 :]))
    barged_at = time.perf_counter()
    session.emit(CallerSpeechStarted())
    await until(lambda: bool(stream.clears))
    clear_s = stream.clears[0] - barged_at
    await burst
    expected = as_provider_hears(frames)
    # The resampler holds back its filter's tail, under one frame's worth.
    await until(lambda: len(session.audio_in) > len(expected) - 960)
    print(f"frames sent {len(frames)}; provider got {len(session.audio_in)} of "
          f"{len(expected)} bytes; clear after {clear_s * 1000:.1f} ms")  # fmt: skip
    assert bytes(session.audio_in) == expected[: len(session.audio_in)]  # none lost, in order
    assert clear_s <= CLEAR_WITHIN_S
    await stream.aclose()
