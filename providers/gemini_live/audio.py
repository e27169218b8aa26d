"""Small PCM16 helpers: a level gate for "the caller is speaking".

The level gate is deliberately simple (peak amplitude with a hang-over in *audio* time, never
wall time). It serves two purposes: the stall watchdog needs to know when the caller speaks,
and with Gemini's automatic activity detection disabled we must send activityStart/End.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

SPEECH_PEAK = 1_000
"""Peak sample (of 32767, about -30 dBFS) above which a chunk counts as speech; phone-line
noise stays well below it, speech peaks well above."""

Activity = Literal["start", "end"]


def peak_level(pcm16: bytes) -> int:
    """Largest absolute sample of PCM16 little-endian audio (a trailing odd byte is ignored).
    numpy, with no copy: it runs on every frame of caller audio, and a Python loop over the
    samples cost ten times as much."""
    samples = np.frombuffer(pcm16, "<i2", len(pcm16) // 2)
    if not samples.size:
        return 0
    return max(int(samples.max()), -int(samples.min()))


class ActivityGate:
    """Speech onset and offset from audio levels: onset at the first loud chunk, offset after
    ``silence_ms`` of quiet audio."""

    def __init__(self, sample_rate_hz: int, silence_ms: int) -> None:
        self._bytes_per_ms = sample_rate_hz * 2 // 1000
        self._silence_ms = silence_ms
        self._quiet_ms = 0.0
        self.active = False

    def reset(self) -> None:
        """A new connection has seen no activityStart yet."""
        self._quiet_ms = 0.0
        self.active = False

    def feed(self, pcm16: bytes, *, voiced: bool) -> Activity | None:
        """Account for one chunk; returns the edge it crosses, if any."""
        if voiced:
            self._quiet_ms = 0.0
            if not self.active:
                self.active = True
                return "start"
            return None
        if not self.active:
            return None
        self._quiet_ms += len(pcm16) / self._bytes_per_ms
        if self._quiet_ms >= self._silence_ms:
            self.active = False
            return "end"
        return None
