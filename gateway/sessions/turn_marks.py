"""The gateway's own turn marks for app sessions whose provider has no server VAD.

A phone call's bridge marks turns with the VAD it runs for barge-in. An app streams PCM16
24 kHz and has no message that ends a turn, so when the assistant turns the provider's VAD off
the gateway finds the caller's turns itself: one streaming resampler to 16 kHz and the same
``media.vad`` detector the bridge uses, with the assistant's silence setting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gateway.sessions.plan import SessionPlan
from media.resample import StreamResampler
from media.vad import SpeechStarted, VadConfig, VoiceActivityDetector

VAD_RATE_HZ = 16_000
MIN_SILENCE_MS, MAX_SILENCE_MS = 200, 5_000  # a sane range for ending a spoken turn


@dataclass(frozen=True, slots=True)
class TurnMark:
    """Speech began or ended ``ms_ago`` before the end of the audio fed so far."""

    edge: Literal["began", "ended"]
    ms_ago: int


class TurnMarker:
    """Turn marks for one session's caller audio (PCM16 at ``input_rate_hz``, any chunk size)."""

    def __init__(self, input_rate_hz: int, silence_ms: int) -> None:
        self._resampler = StreamResampler(input_rate_hz, VAD_RATE_HZ)
        silence = min(max(silence_ms, MIN_SILENCE_MS), MAX_SILENCE_MS)
        self._vad = VoiceActivityDetector(
            VadConfig(sample_rate_hz=VAD_RATE_HZ, min_silence_ms=silence)
        )
        self._bytes_per_ms = input_rate_hz * 2 // 1000
        self._fed_bytes = 0

    def feed(self, pcm16: bytes) -> list[TurnMark]:
        self._fed_bytes += len(pcm16)
        fed_ms = self._fed_bytes // self._bytes_per_ms
        marks = []
        for event in self._vad.process(self._resampler.process(pcm16[: len(pcm16) // 2 * 2])):
            if isinstance(event, SpeechStarted):
                marks.append(TurnMark("began", max(0, fed_ms - event.start_ms)))
            else:
                marks.append(TurnMark("ended", max(0, fed_ms - event.end_ms)))
        return marks


def gateway_marker(plan: SessionPlan, silence_ms: int) -> TurnMarker | None:
    """An app has no VAD and no message that ends a turn: when the plan gives the turns to the
    gateway, the engine finds them in the app's audio with this marker (None: it need not)."""
    if plan.turns == "gateway" and plan.inbound.port.encoding == "pcm16":
        return TurnMarker(plan.inbound.port.sample_rate_hz, silence_ms)
    return None
