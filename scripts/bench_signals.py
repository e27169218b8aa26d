"""Signals and timing shared by the media benches: speech as carrier and provider frames, and a
best-of-seven timer for per-frame costs (the machine is shared, so the quietest run counts)."""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from make_audio_fixtures import DEFAULT_OUT, read_wav  # noqa: E402

from media.g711 import pcm16_to_ulaw  # noqa: E402

Samples = npt.NDArray[np.float64]
FRAME_US = 20_000
RUNS = 7


def pcm16(samples: Samples) -> bytes:
    """Float samples as PCM16 little-endian, rounded and clipped."""
    return np.clip(np.round(samples), -32768, 32767).astype("<i2").tobytes()


def load(name: str) -> Samples:
    """A fixture from tests/fixtures/audio as float samples."""
    return read_wav(DEFAULT_OUT / name)[0]


def ulaw_frames(ulaw: bytes) -> list[bytes]:
    """Whole 20 ms µ-law frames."""
    return [ulaw[i : i + 160] for i in range(0, len(ulaw) - 159, 160)]


@dataclass(frozen=True)
class SpeechFrames:
    """The same speech as a caller sends it (8 kHz µ-law) and as a provider speaks it (24 kHz
    PCM16), in 20 ms frames; ``count`` is how many frames one timed run takes."""

    ulaw_8k: list[bytes]
    pcm_24k: list[bytes]
    count: int


def speech_frames() -> SpeechFrames:
    ulaw_8k = ulaw_frames(pcm16_to_ulaw(pcm16(load("speech_a_8k.wav"))))
    pcm_24k = pcm16(load("speech_a_24k.wav"))
    frames_24k = [pcm_24k[i : i + 960] for i in range(0, len(pcm_24k) - 959, 960)]
    return SpeechFrames(ulaw_8k, frames_24k, 5 * len(frames_24k))


def time_calls(call: Callable[[int], object], count: int) -> dict[str, float]:
    """Best of RUNS runs of ``count`` calls: mean, median and p99 in µs."""
    best: list[float] = []
    for _ in range(RUNS):
        times = []
        for index in range(count):
            start = time.perf_counter_ns()
            call(index)
            times.append((time.perf_counter_ns() - start) / 1000)
        if not best or statistics.fmean(times) < statistics.fmean(best):
            best = times
    best.sort()
    return {
        "mean_us": round(statistics.fmean(best), 2),
        "median_us": round(best[len(best) // 2], 2),
        "p99_us": round(best[int(len(best) * 0.99)], 2),
    }
