"""The gateway's own turn marks for app sessions whose provider has no server VAD.

A phone call's bridge marks turns with the VAD it runs for barge-in. An app streams audio and
has no message that ends a turn, so when the assistant turns the provider's VAD off the gateway
finds the caller's turns itself (and beside a provider VAD that never says when a turn ended,
Gemini's, it finds them to time the reply): the same ``media.vad`` detector the bridge uses,
with the assistant's silence setting, on the audio as the engine sends it to the provider (already
converted once: PCM16 at 16 kHz for Gemini needs no resampling here; G.711 passed through to
the provider is decoded for the VAD alone).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gateway.sessions.plan import SessionPlan
from kinds.audio import AudioFormat
from media.g711 import alaw_to_pcm16, ulaw_to_pcm16
from media.resample import StreamResampler
from media.vad import SpeechStarted, VadConfig, VoiceActivityDetector

VAD_RATE_HZ = 16_000
MIN_SILENCE_MS, MAX_SILENCE_MS = 200, 5_000  # a sane range for ending a spoken turn
_DECODE = {"pcmu": ulaw_to_pcm16, "pcma": alaw_to_pcm16}


@dataclass(frozen=True, slots=True)
class TurnMark:
    """Speech began or ended ``ms_ago`` before the end of the audio fed so far."""

    edge: Literal["began", "ended"]
    ms_ago: int


class TurnMarker:
    """Turn marks for one session's caller audio (in ``audio_format``, any chunk size)."""

    def __init__(self, audio_format: AudioFormat, silence_ms: int) -> None:
        self._decode = _DECODE.get(audio_format.encoding)
        self._resampler = StreamResampler(audio_format.sample_rate_hz, VAD_RATE_HZ)
        silence = min(max(silence_ms, MIN_SILENCE_MS), MAX_SILENCE_MS)
        self._vad = VoiceActivityDetector(
            VadConfig(sample_rate_hz=VAD_RATE_HZ, min_silence_ms=silence)
        )
        self._bytes_per_ms = audio_format.bytes_per_ms
        self._fed_bytes = 0

    def feed(self, audio: bytes) -> list[TurnMark]:
        self._fed_bytes += len(audio)
        pcm16 = audio if self._decode is None else self._decode(audio)
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
    gateway (or only their timing: ``plan.gateway_vad``), the engine finds them in the app's
    audio with this marker (None: it need not).
    It reads the audio sent to the provider (``plan.inbound.provider``)."""
    if plan.gateway_vad:
        return TurnMarker(plan.inbound.provider, silence_ms)
    return None
