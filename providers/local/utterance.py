"""End-of-utterance detection for the local provider's loopback: webrtcvad with hysteresis.

``UtteranceDetector.feed`` takes caller audio (PCM16 mono at 24 kHz, any chunk length) and
returns what happened in it: an ``UtteranceStarted`` when speech begins and an
``UtteranceEnded`` carrying the utterance's own audio (at the input rate, with a little pre-roll)
when it ends. That narrow interface is the one seam to swap for ``media.vad`` later.

webrtcvad only takes 8/16/32/48 kHz, so each 20 ms input frame goes through one
``soxr.ResampleStream`` (24 → 16 kHz) kept for the detector's whole life; the VAD decides on the
16 kHz frames while the 24 kHz frames are what get played back.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal

import numpy as np
import soxr
import webrtcvad

FRAME_MS = 20
"""webrtcvad accepts 10, 20 or 30 ms frames; 20 ms matches the gateway's media framing."""
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

    onset_ms: int = 80
    """Voiced audio needed in a row before speech counts: ignores clicks and short noises."""
    silence_ms: int = 700
    """Unvoiced audio needed in a row to end an utterance: longer than pauses between words."""
    preroll_ms: int = 300
    """Audio kept from before the onset so the first syllable is not cut."""
    tail_ms: int = 100
    """Audio kept after the last voiced frame; the rest of the closing silence is dropped."""
    max_utterance_ms: int = 20_000
    """Bounds memory: a longer utterance is cut and ended here."""
    vad_mode: int = 2
    """webrtcvad aggressiveness, 0 (lenient) to 3 (strict)."""


class UtteranceDetector:
    """Finds the caller's utterances in a PCM16 stream; synchronous and allocation-light."""

    def __init__(
        self, input_rate_hz: int = 24_000, settings: UtteranceSettings | None = None
    ) -> None:
        self._settings = settings or UtteranceSettings()
        self._input_frame_bytes = input_rate_hz * FRAME_MS // 1000 * BYTES_PER_SAMPLE
        self._vad_frame_bytes = VAD_SAMPLE_RATE_HZ * FRAME_MS // 1000 * BYTES_PER_SAMPLE
        self._bytes_per_ms = input_rate_hz * BYTES_PER_SAMPLE // 1000
        self._vad = webrtcvad.Vad(self._settings.vad_mode)
        self._resampler = soxr.ResampleStream(input_rate_hz, VAD_SAMPLE_RATE_HZ, 1, dtype="int16")
        self._pending_input = bytearray()
        self._pending_vad = bytearray()
        # Input frames waiting for their VAD decision: the resampler delays its output a little.
        self._undecided: deque[bytes] = deque()
        frames_before_onset = (self._settings.preroll_ms + self._settings.onset_ms) // FRAME_MS
        self._recent: deque[bytes] = deque(maxlen=max(1, frames_before_onset))
        self._utterance = bytearray()
        self._speaking = False
        self._awaiting_silence = False
        self._voiced_run_ms = 0
        self._silent_run_ms = 0
        self._voiced_end_bytes = 0

    @property
    def speaking(self) -> bool:
        """Whether an utterance is in progress."""
        return self._speaking

    def feed(self, pcm16: bytes) -> list[UtteranceEvent]:
        """Take caller audio of any length; return the utterance events it completes."""
        events: list[UtteranceEvent] = []
        self._pending_input += pcm16
        step = self._input_frame_bytes
        whole = len(self._pending_input) // step * step
        for start in range(0, whole, step):
            self._push_input_frame(bytes(self._pending_input[start : start + step]), events)
        del self._pending_input[:whole]
        return events

    def _push_input_frame(self, frame: bytes, events: list[UtteranceEvent]) -> None:
        self._undecided.append(frame)
        samples = np.frombuffer(frame, dtype=np.int16)
        self._pending_vad += self._resampler.resample_chunk(samples).tobytes()
        step = self._vad_frame_bytes
        while len(self._pending_vad) >= step and self._undecided:
            voiced = self._vad.is_speech(bytes(self._pending_vad[:step]), VAD_SAMPLE_RATE_HZ)
            del self._pending_vad[:step]
            self._decide(self._undecided.popleft(), voiced, events)

    def _decide(self, frame: bytes, voiced: bool, events: list[UtteranceEvent]) -> None:
        """Advance the hysteresis state machine by one frame."""
        if voiced:
            self._voiced_run_ms += FRAME_MS
            self._silent_run_ms = 0
        else:
            self._voiced_run_ms = 0
            self._silent_run_ms += FRAME_MS
        if self._awaiting_silence:
            # After a capped utterance, wait for a real pause before listening again.
            self._awaiting_silence = self._silent_run_ms < self._settings.silence_ms
            return
        if not self._speaking:
            self._recent.append(frame)
            if self._voiced_run_ms >= self._settings.onset_ms:
                self._start_utterance(events)
            return
        self._utterance += frame
        if voiced:
            self._voiced_end_bytes = len(self._utterance)
        if self._silent_run_ms >= self._settings.silence_ms:
            self._end_utterance(events, capped=False)
        elif len(self._utterance) >= self._settings.max_utterance_ms * self._bytes_per_ms:
            self._end_utterance(events, capped=True)

    def _start_utterance(self, events: list[UtteranceEvent]) -> None:
        self._speaking = True
        self._utterance.clear()
        for frame in self._recent:
            self._utterance += frame
        self._recent.clear()
        self._voiced_end_bytes = len(self._utterance)
        events.append(UtteranceStarted())

    def _end_utterance(self, events: list[UtteranceEvent], *, capped: bool) -> None:
        keep_bytes = len(self._utterance)
        if not capped:
            keep_bytes = min(
                keep_bytes, self._voiced_end_bytes + self._settings.tail_ms * self._bytes_per_ms
            )
        events.append(UtteranceEnded(bytes(self._utterance[:keep_bytes]), capped=capped))
        self._utterance.clear()
        self._speaking = False
        self._awaiting_silence = capped
