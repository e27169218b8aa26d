"""Voice activity detection with hysteresis over webrtcvad, for 8 or 16 kHz PCM16.

A frame is *voiced* when webrtcvad calls it speech **and** it stands clear of the noise: its
level is above an absolute floor and a margin above a tracked noise floor, and it is not a DTMF
digit. Its voiced duration counts the 5 ms slices that are that loud, so a click is a few ms, not
a frame. Speech *starts* once enough voiced ms fall within a short window and *stops* after a run
of unvoiced frames. Events carry the stream position (ms since the detector began) where speech
began or ended.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Literal

import webrtcvad

from media.tones import ToneDetector

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # stdlib audioop leaves in 3.13
    import audioop

__all__ = ["SpeechStarted", "SpeechStopped", "VadConfig", "VadEvent", "VoiceActivityDetector"]

_SUPPORTED_RATES_HZ = (8000, 16000)
_SUPPORTED_FRAMES_MS = (10, 20, 30)
_FULL_SCALE_POWER = 32768.0**2  # 0 dBov: RMS of a full-scale square wave (ITU-T P.56)
_SLICE_MS = 5  # resolution of voiced duration: shorter than any click we must ignore


@dataclass(frozen=True, slots=True)
class VadConfig:
    """Thresholds of the detector; the defaults suit telephone speech at 8 kHz, 20 ms frames."""

    sample_rate_hz: int = 8000
    frame_ms: int = 20
    # webrtcvad mode 0-3. The energy and tone gates do the noise rejection, so a mild mode
    # keeps weak onsets (fricatives, "h") that mode 3 confirms 20-40 ms later on the fixtures.
    aggressiveness: int = 1
    # Speech starts when this much voiced audio, counted in 5 ms slices, falls within the window.
    # 30 ms out-waits a click or pop even when it straddles two frames (at most 10 ms of loud
    # slices) while a real onset is confirmed within two 20 ms frames.
    min_speech_ms: int = 30
    speech_window_ms: int = 60
    # Speech stops after this much unvoiced audio: longer than the pauses between words
    # (100-300 ms), short enough to end a turn promptly.
    min_silence_ms: int = 500
    # Frames quieter than this are never speech: 24 dB under the -26 dBov nominal speech level.
    energy_floor_dbov: float = -50.0
    # Voiced frames must be this far above the noise floor. On 15 minutes of -30 dBov pink
    # noise 6 dB let three bursts through and 7 dB none; 8 dB keeps a decibel in hand, and
    # vowels at -26 dBov still clear -40 dBov noise by 14 dB.
    snr_margin_db: float = 8.0
    # The noise floor is the quietest frame of this much recent audio (minimum statistics):
    # speech always pauses within 2 s, so it is not mistaken for noise, and a new steady
    # noise is learned within 2 s.
    noise_memory_ms: int = 2000
    # Reject frames that are mostly a DTMF digit (Q.23 tone pair).
    reject_tones: bool = True

    def __post_init__(self) -> None:
        if self.sample_rate_hz not in _SUPPORTED_RATES_HZ:
            raise ValueError("VAD sample rate must be 8000 or 16000 Hz")
        if self.frame_ms not in _SUPPORTED_FRAMES_MS:
            raise ValueError("VAD frames must be 10, 20 or 30 ms")
        if not 0 <= self.aggressiveness <= 3:
            raise ValueError("aggressiveness must be 0-3")
        if not 0 < self.min_speech_ms <= self.speech_window_ms:
            raise ValueError("need 0 < min_speech_ms <= speech_window_ms")
        if self.noise_memory_ms < 4 * self.frame_ms:
            raise ValueError("noise_memory_ms must span at least four frames")
        if self.speech_window_ms % self.frame_ms:
            raise ValueError("speech_window_ms must be a whole number of frames")

    @property
    def frame_bytes(self) -> int:
        """Bytes of PCM16 in one frame."""
        return self.sample_rate_hz * self.frame_ms // 1000 * 2


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    """Speech began at ``start_ms``; it was confirmed at ``detected_ms`` (both stream times)."""

    start_ms: int
    detected_ms: int
    kind: Literal["speech_started"] = "speech_started"


@dataclass(frozen=True, slots=True)
class SpeechStopped:
    """Speech ended at ``end_ms``; confirmed after the silence, at ``detected_ms``."""

    end_ms: int
    detected_ms: int
    kind: Literal["speech_stopped"] = "speech_stopped"


VadEvent = SpeechStarted | SpeechStopped


class VoiceActivityDetector:
    """Finds where speech starts and stops in a PCM16 stream (one detector per stream)."""

    def __init__(self, config: VadConfig | None = None) -> None:
        self.config = config = config or VadConfig()
        self._vad = webrtcvad.Vad(config.aggressiveness)
        self._tones = ToneDetector(config.sample_rate_hz) if config.reject_tones else None
        self._frame_bytes = config.frame_bytes
        self._window = [0] * (config.speech_window_ms // config.frame_ms)  # voiced ms, ring
        self._slice_bytes = config.sample_rate_hz * _SLICE_MS // 1000 * 2
        self._min_silence_frames = math.ceil(config.min_silence_ms / config.frame_ms)
        # Minimum statistics in four sub-windows: the floor is the minimum of the current one
        # and the three before it, so old loud audio ages out without a per-frame scan.
        self._noise_span = max(1, config.noise_memory_ms // config.frame_ms // 4)
        self._pending = b""
        self.reset()

    def reset(self) -> None:
        """Forget the stream: position 0, no speech, noise floor unknown."""
        self._frames = 0
        self._window[:] = [0] * len(self._window)
        self._silent_frames = 0
        self._last_voiced = -1
        self.speaking = False
        self.noise_floor_dbov = math.inf
        self._noise_current = math.inf
        self._noise_past = [math.inf] * 3
        self._noise_count = 0
        self.frame_voiced_ms = 0
        self._pending = b""

    @property
    def position_ms(self) -> int:
        """Stream time at the end of the last frame processed."""
        return self._frames * self.config.frame_ms

    def process(self, pcm16: bytes) -> list[VadEvent]:
        """Feed any amount of PCM16; frames it internally and returns the events in order."""
        data = self._pending + pcm16 if self._pending else pcm16
        size = self._frame_bytes
        whole = len(data) - len(data) % size
        events = []
        for start in range(0, whole, size):
            event = self.process_frame(data[start : start + size])
            if event is not None:
                events.append(event)
        self._pending = data[whole:]
        return events

    def process_frame(self, frame: bytes) -> VadEvent | None:
        """Feed exactly one frame (``config.frame_bytes``); return an event if the state changed."""
        voiced_ms = self.frame_voiced_ms = self._classify(frame)
        window = self._window
        slot = self._frames % len(window)
        window[slot] = voiced_ms
        self._frames += 1
        if voiced_ms:
            self._last_voiced = self._frames - 1
            self._silent_frames = 0
        else:
            self._silent_frames += 1
        if not self.speaking:
            if voiced_ms and sum(window) >= self.config.min_speech_ms:
                self.speaking = True
                return SpeechStarted(self._first_voiced_ms(slot), self.position_ms)
        elif self._silent_frames >= self._min_silence_frames:
            self.speaking = False
            return SpeechStopped((self._last_voiced + 1) * self.config.frame_ms, self.position_ms)
        return None

    def _first_voiced_ms(self, slot: int) -> int:
        """Stream time of the oldest voiced frame in the window (``slot`` holds the newest)."""
        size = len(self._window)
        for age in range(size - 1, -1, -1):
            if self._window[(slot - age) % size]:
                return (self._frames - 1 - age) * self.config.frame_ms
        return self.position_ms

    def _classify(self, frame: bytes) -> int:
        """Voiced ms of this frame: 0 unless it is speech clear of the noise. Tracks the floor."""
        rms = audioop.rms(frame, 2)
        level_dbov = _dbov(rms)
        floor = self._track_noise(level_dbov)
        threshold_dbov = max(self.config.energy_floor_dbov, floor + self.config.snr_margin_db)
        # Quiet frames skip webrtcvad: it would only confirm they are not speech.
        if level_dbov < threshold_dbov:
            return 0
        if not self._vad.is_speech(frame, self.config.sample_rate_hz):
            return 0
        if self.speaking:  # onset gates (tones, slices) matter only before speech starts
            return self.config.frame_ms
        if self._tones is not None and self._tones.is_tone(frame, rms):
            return 0
        threshold_rms = math.sqrt(10 ** (threshold_dbov / 10) * _FULL_SCALE_POWER)
        size = self._slice_bytes
        loud = 0
        for start in range(0, len(frame), size):
            loud += audioop.rms(frame[start : start + size], 2) >= threshold_rms
        return loud * _SLICE_MS

    def _track_noise(self, level_dbov: float) -> float:
        """Update and return the noise floor: the quietest frame of the last ~noise_memory_ms."""
        if level_dbov < self._noise_current:
            self._noise_current = level_dbov
        self._noise_count += 1
        if self._noise_count == self._noise_span:
            past = self._noise_past
            past.pop(0)
            past.append(self._noise_current)
            self._noise_current = math.inf
            self._noise_count = 0
        self.noise_floor_dbov = min(self._noise_current, *self._noise_past)
        return self.noise_floor_dbov


def _dbov(rms: float) -> float:
    """Level in dBov of a PCM16 RMS value (+1 keeps digital silence finite: -90 dBov)."""
    return 10 * math.log10((rms * rms + 1) / _FULL_SCALE_POWER)
