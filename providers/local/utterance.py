"""End-of-utterance detection for the local provider's loopback, over ``media.vad``.

``UtteranceDetector.feed`` takes caller audio (PCM16 mono at 24 kHz, any chunk length) and
returns what happened in it: an ``UtteranceStarted`` when speech begins and an
``UtteranceEnded`` carrying the utterance's own audio (at the input rate, with a little pre-roll)
when it ends.

The gateway's own voice activity detector (webrtcvad with hysteresis, an energy floor and a
noise-tracking SNR gate) decides, on a 16 kHz copy made by one streaming resampler; its stream
positions cut the 24 kHz audio that is played back. A detector built with ``own_vad=False``
runs no VAD: the client that already runs one (the phone bridge) reports speech with
``started``/``stopped``, so a call's audio is not analysed twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from media.resample import StreamResampler
from media.vad import SpeechStarted, SpeechStopped, VadConfig, VoiceActivityDetector

VAD_SAMPLE_RATE_HZ = 16_000
BYTES_PER_SAMPLE = 2


@dataclass(frozen=True, slots=True)
class UtteranceStarted:
    """The caller started speaking (onset confirmed by ``onset_ms`` of voiced audio)."""

    kind: Literal["utterance_started"] = "utterance_started"


@dataclass(frozen=True, slots=True)
class UtteranceEnded:
    """The caller stopped speaking; ``audio`` is the utterance at the input rate.

    ``capped`` is true when the utterance was cut at ``max_utterance_ms`` rather than ended by
    silence.
    """

    audio: bytes
    capped: bool = False
    kind: Literal["utterance_ended"] = "utterance_ended"


UtteranceEvent = UtteranceStarted | UtteranceEnded


@dataclass(frozen=True, slots=True)
class UtteranceSettings:
    """Hysteresis and bounds; the defaults suit a person talking to a loopback demo."""

    silence_ms: int = 700
    """Unvoiced audio needed in a row to end an utterance: longer than pauses between words."""
    preroll_ms: int = 300
    """Audio kept from before the onset so the first syllable is not cut."""
    tail_ms: int = 100
    """Audio kept after the last voiced frame; the rest of the closing silence is dropped."""
    max_utterance_ms: int = 20_000
    """Bounds memory: a longer utterance is cut and ended here."""


class UtteranceDetector:
    """Finds the caller's utterances in a PCM16 stream; synchronous and allocation-light."""

    def __init__(
        self,
        input_rate_hz: int = 24_000,
        settings: UtteranceSettings | None = None,
        *,
        own_vad: bool = True,
        sample_bytes: int = BYTES_PER_SAMPLE,
    ) -> None:
        if own_vad and sample_bytes != BYTES_PER_SAMPLE:
            raise ValueError("the detector's own VAD needs PCM16 input")
        self._settings = settings or UtteranceSettings()
        self._sample_bytes = sample_bytes
        self._bytes_per_ms = input_rate_hz * sample_bytes // 1000
        # The VAD runs at 8 or 16 kHz: telephone audio goes straight in, 24 kHz is resampled once.
        vad_rate_hz = input_rate_hz if input_rate_hz in (8000, 16000) else VAD_SAMPLE_RATE_HZ
        self._resampler = (
            None
            if vad_rate_hz == input_rate_hz or not own_vad
            else StreamResampler(input_rate_hz, vad_rate_hz)
        )
        config = VadConfig(sample_rate_hz=vad_rate_hz, min_silence_ms=self._settings.silence_ms)
        self._vad = VoiceActivityDetector(config) if own_vad else None
        self._odd = b""  # a lone byte of a sample split across chunks
        self._audio = bytearray()  # input audio from stream time ``_audio_start_ms`` on
        self._audio_start_ms = 0
        self._start_ms: int | None = None  # where the current utterance began
        self._capped = False  # cut at max length: ignore the rest of this speech

    @property
    def speaking(self) -> bool:
        """Whether an utterance is in progress."""
        return self._start_ms is not None

    def feed(self, pcm16: bytes) -> list[UtteranceEvent]:
        """Take caller audio of any length; return the utterance events it completes."""
        if self._sample_bytes == 2 and (self._odd or len(pcm16) % 2):
            pcm16 = self._odd + pcm16
            self._odd = pcm16[-1:] if len(pcm16) % 2 else b""
            pcm16 = pcm16[: len(pcm16) - len(self._odd)]
        self._audio += pcm16
        events: list[UtteranceEvent] = []
        if self._vad is not None:
            vad_audio = self._resampler.process(pcm16) if self._resampler else pcm16
            for event in self._vad.process(vad_audio):
                if isinstance(event, SpeechStarted):
                    self._started_at(event.start_ms, events)
                elif isinstance(event, SpeechStopped):
                    self._stopped_at(event.end_ms, events)
        self._cap(events)
        self._forget_old_audio()
        return events

    def started(self, ms_ago: int) -> list[UtteranceEvent]:
        """The client's VAD heard speech start ``ms_ago`` before the end of the audio fed."""
        events: list[UtteranceEvent] = []
        self._started_at(max(self._audio_start_ms, self._now_ms() - max(ms_ago, 0)), events)
        return events

    def stopped(self, ms_ago: int) -> list[UtteranceEvent]:
        """The client's VAD heard speech stop ``ms_ago`` before the end of the audio fed."""
        events: list[UtteranceEvent] = []
        self._stopped_at(self._now_ms() - max(ms_ago, 0), events)
        self._forget_old_audio()
        return events

    def _now_ms(self) -> int:
        return self._audio_start_ms + len(self._audio) // self._bytes_per_ms

    def _started_at(self, start_ms: int, events: list[UtteranceEvent]) -> None:
        if self._start_ms is None and not self._capped:
            self._start_ms = start_ms
            events.append(UtteranceStarted())

    def _stopped_at(self, end_ms: int, events: list[UtteranceEvent]) -> None:
        if self._start_ms is not None:
            end_ms = min(end_ms + self._settings.tail_ms, self._now_ms())
            events.append(UtteranceEnded(self._cut(self._start_ms, end_ms)))
        self._start_ms, self._capped = None, False

    def _cap(self, events: list[UtteranceEvent]) -> None:
        """End an utterance that reached ``max_utterance_ms`` (it keeps memory bounded)."""
        if self._start_ms is None:
            return
        now_ms = self._now_ms()
        first_ms = self._first_ms(self._start_ms)
        if now_ms - first_ms >= self._settings.max_utterance_ms:
            end_ms = first_ms + self._settings.max_utterance_ms
            events.append(UtteranceEnded(self._cut(self._start_ms, end_ms), capped=True))
            self._start_ms, self._capped = None, True

    def _first_ms(self, start_ms: int) -> int:
        """Where an utterance's audio begins: its start less the pre-roll we still hold."""
        return max(self._audio_start_ms, start_ms - self._settings.preroll_ms)

    def _cut(self, start_ms: int, end_ms: int) -> bytes:
        """The input audio from ``start_ms`` (less the pre-roll) to ``end_ms``."""
        first_ms = self._first_ms(start_ms)
        begin = (first_ms - self._audio_start_ms) * self._bytes_per_ms
        end = max(begin, (end_ms - self._audio_start_ms) * self._bytes_per_ms)
        return bytes(self._audio[begin:end])

    def _forget_old_audio(self) -> None:
        """Keep only what a future cut can need: the pre-roll, or the utterance in progress."""
        keep_from_ms = self._now_ms()
        keep_from_ms -= self._settings.preroll_ms + 2 * self._settings.silence_ms
        if self._start_ms is not None:
            keep_from_ms = min(keep_from_ms, self._start_ms - self._settings.preroll_ms)
        drop_ms = keep_from_ms - self._audio_start_ms
        if drop_ms > 0:
            del self._audio[: drop_ms * self._bytes_per_ms]
            self._audio_start_ms += drop_ms
