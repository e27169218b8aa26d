"""Noise suppression of the caller's audio: speexdsp's preprocessor denoiser, frame by frame.

Runs on PCM16 at the carrier's rate before the VAD and before the audio goes to the provider,
so a steady background (a fan, a car, line hiss) neither confirms speech onsets nor reaches the
provider at full level. About 8 µs per 20 ms frame at 8 kHz (``scripts/bench_bargein.py``), yet
the largest cost of a call's inbound path (~100 k instructions a frame), so a long run of digital
silence (a muted or DTX line, a carrier's fill, the load test's pauses) skips it: see
``SKIP_SILENCE_AFTER_FRAMES``.

speexdsp-ns ships wheels for CPython 3.11 and 3.12 only; where it is missing ``AVAILABLE`` is
False and a ``NoiseSuppressor`` cannot be made (the gateway then says so and runs without).
"""

from __future__ import annotations

import importlib
import weakref
from typing import Any

__all__ = ["AVAILABLE", "NoiseSuppressor"]

# Speex windows two frames for each output frame, so the second frame of zeros after sound
# still carries the sound's overlap tail; from the third on its output is exactly zero.
_TAIL_FRAMES = 2
SKIP_SILENCE_AFTER_FRAMES = 100
"""Zero frames fed to speex before the rest of a run of them is skipped (their output is zeros
either way). Speex keeps learning from zeros: its noise estimate sinks for seconds, and skipping
earlier changes how it treats the sound that follows. After 2 s of zeros, what follows differs
from feeding them all by ~40 dB under the speech, and the VAD's events on the load test's caller
and a DTX line are the same; skipping after 2 frames (60 % of the load test's frames, not 22 %)
moved two of six speech onsets by 20 ms (``scripts/bench_denoise_gaps.py``)."""


def _load() -> Any:
    try:
        return importlib.import_module("speexdsp_ns").NoiseSuppression
    except ImportError:
        return None


_NOISE_SUPPRESSION = _load()
AVAILABLE = _NOISE_SUPPRESSION is not None
_DESTROY = getattr(_NOISE_SUPPRESSION, "__swig_destroy__", None)
"""The binding's ``create`` hands back a state Python does not own (SWIG without
``%newobject``), so nothing ever freed it: about 25 KiB of native memory lost per call
(``scripts/soak.py`` saw RSS grow with every round). Marking it owned makes the next ``create``
return a bare pointer, so the state is destroyed explicitly, once, when its owner goes."""


class NoiseSuppressor:
    """Denoises one stream of PCM16 frames of a fixed size (one object per call)."""

    def __init__(
        self,
        sample_rate_hz: int = 8000,
        frame_ms: int = 20,
        *,
        skip_silence_after: int | None = SKIP_SILENCE_AFTER_FRAMES,
    ) -> None:
        if _NOISE_SUPPRESSION is None:
            raise RuntimeError("speexdsp-ns is not installed: no noise suppression")
        self.frame_bytes = sample_rate_hz * frame_ms // 1000 * 2
        self._ns = _NOISE_SUPPRESSION.create(self.frame_bytes // 2, sample_rate_hz)
        if _DESTROY is not None:
            weakref.finalize(self, _DESTROY, self._ns)
        self._silence = bytes(self.frame_bytes)
        # None feeds every frame (the bench's reference); never fewer than the overlap tail.
        skip = skip_silence_after
        self._skip_after = None if skip is None else max(skip, _TAIL_FRAMES)
        self._zeros_fed = 0  # zero frames fed since the last sound

    def process(self, frame: bytes) -> bytes:
        """One frame of exactly ``frame_bytes``; other lengths pass through untouched."""
        if len(frame) != self.frame_bytes:
            return frame
        if self._skip_after is not None and frame == self._silence:
            if self._zeros_fed >= self._skip_after:
                return frame
            self._zeros_fed += 1
        else:
            self._zeros_fed = 0
        out: bytes = self._ns.process(frame)
        return out
