"""Signals, timing and measures shared by the media benches: speech as carrier and provider
frames, a best-of-seven timer for per-frame costs (the machine is shared, so the quietest run
counts), and the round trip through the chains with its SNR in 300-3400 Hz."""

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

from make_audio_fixtures import DEFAULT_OUT, read_wav, white_noise  # noqa: E402

from kinds.audio import PCMU_8K, AudioFormat  # noqa: E402
from media.chains import InboundChain, OutboundChain  # noqa: E402
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


def band(signal: Samples, rate_hz: int, low_hz: float = 300, high_hz: float = 3400) -> Samples:
    """``signal`` with everything outside ``low_hz``-``high_hz`` removed (an FFT mask)."""
    spectrum = np.fft.rfft(signal)
    freqs = np.fft.rfftfreq(len(signal), 1 / rate_hz)
    spectrum[(freqs < low_hz) | (freqs > high_hz)] = 0
    in_band: Samples = np.fft.irfft(spectrum, len(signal))
    return in_band


def aligned_snr_db(reference: Samples, output: Samples, rate_hz: int = 24000) -> dict[str, float]:
    """SNR in 300-3400 Hz after aligning the output to the reference by cross-correlation."""
    size = len(reference) + len(output)
    correlation = np.fft.irfft(np.fft.rfft(output, size) * np.conj(np.fft.rfft(reference, size)))
    lags = np.r_[0:1000, -1000:0]
    lag = int(lags[np.argmax(correlation[lags])])
    aligned = np.roll(output, -lag)[: len(reference)] if lag >= 0 else np.r_[np.zeros(-lag), output]
    aligned = aligned[: len(reference)]
    edge = rate_hz // 10  # ignore 100 ms at each end (turn start and flush padding)
    ref_band = band(reference, rate_hz)[edge:-edge]
    out_band = band(aligned, rate_hz)[edge:-edge]
    snr = 10 * np.log10(np.sum(ref_band**2) / np.sum((out_band - ref_band) ** 2))
    return {"snr_db": round(float(snr), 2), "delay_samples": lag}


def round_trip(signal: Samples, carrier: AudioFormat = PCMU_8K) -> Samples:
    """24 kHz → OutboundChain (the carrier's format, 20 ms frames) → InboundChain → 24 kHz: the
    PCM path of a call whose provider speaks PCM16 24 kHz, both ways."""
    outbound, inbound = OutboundChain(carrier=carrier), InboundChain(carrier=carrier)
    pcm = pcm16(signal)
    batches = [b for i in range(0, len(pcm), 960) for b in outbound.push("item", pcm[i : i + 960])]
    batches += outbound.flush()
    received = [inbound.process(frame, False).audio for b in batches for frame in b.frames]
    received.append(inbound.flush())
    return np.frombuffer(b"".join(received), "<i2").astype(np.float64)


def quality_signals(rate_hz: int = 24000) -> dict[str, Samples]:
    """What the round trips carry: a -16 dBov 1004 Hz tone (the G.711 test level), speech and
    -20 dBov noise within 300-3400 Hz, three seconds each."""
    t = np.arange(3 * rate_hz) / rate_hz
    tone = 32768 * np.sqrt(2) * 10 ** (-16 / 20) * np.sin(2 * np.pi * 1004 * t)
    noise = band(white_noise(3.0, rate_hz, -10.0, 11), rate_hz)
    noise *= 32768 * 10 ** (-20 / 20) / np.sqrt(np.mean(noise**2))
    return {
        "tone_1004hz_-16dbov": tone,
        "speech": load("speech_a_24k.wav"),
        "band_noise_-20dbov": noise,
    }
