#!/usr/bin/env python3
"""Make the audio fixtures in tests/fixtures/audio/ (see the README there): speech, noise, tones.

    .venv/bin/python scripts/make_audio_fixtures.py [--out tests/fixtures/audio]

Speech comes from espeak-ng (must be on PATH); everything else is synthesised with a fixed seed,
so the files are reproducible. Levels are in dBov: 0 dBov is the RMS of a full-scale square wave
(32768), as in ITU-T P.56, so a full-scale sine is -3 dBov. The bench imports the noise and
level helpers from here to make longer runs of the same signals.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import tempfile
import wave
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import soxr

Samples = npt.NDArray[np.float64]
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "tests" / "fixtures" / "audio"
FULL_SCALE = 32768.0
SPEECH_LEVEL_DBOV = -26.0  # the ITU-T P.56/P.800 nominal active speech level
LEAD_S, GAP_S, TAIL_S = 0.6, 1.2, 0.6  # silence before, between and after the two phrases
ONSET_THRESHOLD = 64  # |x| in espeak's 22.05 kHz output above which a phrase has begun

SPEECH_CLIPS = {
    "speech_a": (
        "en-us",
        "Hello, I would like to book a table.",
        "For two people, tonight at eight.",
    ),
    "speech_b": ("en-us+f3", "Sorry, could you repeat that?", "Yes, that works for me. Thank you."),
    "speech_c": ("en-gb-x-rp+m2", "What time do you open tomorrow?", "Great, see you then."),
}
NOISE_CLIPS = {  # name: (colour, level in dBov, seed)
    "white_-40dbov": ("white", -40.0, 1),
    "white_-30dbov": ("white", -30.0, 2),
    "pink_-40dbov": ("pink", -40.0, 3),
    "pink_-30dbov": ("pink", -30.0, 4),
}
NOISE_S = 4.0
DTMF_HZ = {"1": (697, 1209), "5": (770, 1336), "9": (852, 1477), "#": (941, 1633), "0": (941, 1336)}


def dbov(samples: Samples) -> float:
    """RMS level in dBov."""
    return float(10 * np.log10(np.mean(samples**2) / FULL_SCALE**2 + 1e-20))


def active_level_dbov(samples: Samples, rate_hz: int) -> float:
    """Active speech level after ITU-T P.56 method B (envelope, 200 ms hangover, 15.9 dB margin)."""
    decay = np.exp(-1 / (0.03 * rate_hz))
    envelope = np.empty_like(samples)
    level = 0.0
    for index, value in enumerate(np.abs(samples)):  # two-stage smoothing as in P.56
        level = decay * level + (1 - decay) * value
        envelope[index] = level
    smooth = np.empty_like(samples)
    level = 0.0
    for index, value in enumerate(envelope):
        level = decay * level + (1 - decay) * value
        smooth[index] = level
    energy = float(np.mean(samples**2))
    hangover = int(0.2 * rate_hz)
    margins: list[tuple[float, float]] = []
    for exponent in range(16):
        threshold = 2.0**exponent
        above = smooth >= threshold
        # a sample is active if the envelope was above threshold within the last 200 ms
        recent = np.convolve(above.astype(np.float64), np.ones(hangover))[: len(samples)] > 0
        activity = float(np.mean(recent))
        if activity == 0:
            break
        level_db = 10 * np.log10(energy / activity)
        margins.append((level_db, level_db - 20 * np.log10(threshold)))
    for (level_a, margin_a), (level_b, margin_b) in itertools.pairwise(margins):
        if margin_a >= 15.9 >= margin_b:
            weight = (margin_a - 15.9) / (margin_a - margin_b) if margin_a != margin_b else 0.0
            return float(level_a + weight * (level_b - level_a) - 20 * np.log10(FULL_SCALE))
    return dbov(samples)


def white_noise(seconds: float, rate_hz: int, level_dbov: float, seed: int) -> Samples:
    """Gaussian white noise at an exact RMS level."""
    noise = np.random.default_rng(seed).standard_normal(int(seconds * rate_hz))
    return _at_level(noise, level_dbov)


def pink_noise(seconds: float, rate_hz: int, level_dbov: float, seed: int) -> Samples:
    """1/f noise (-3 dB per octave from 20 Hz to Nyquist) at an exact RMS level."""
    count = int(seconds * rate_hz)
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(count))
    freqs = np.fft.rfftfreq(count, 1 / rate_hz)
    spectrum /= np.sqrt(np.maximum(freqs, 20.0))
    return _at_level(np.fft.irfft(spectrum, count), level_dbov)


def _at_level(signal: Samples, level_dbov: float) -> Samples:
    scaled: Samples = signal * (FULL_SCALE * 10 ** (level_dbov / 20) / np.sqrt(np.mean(signal**2)))
    return scaled


def _tone(freqs_hz: tuple[int, ...], seconds: float, rate_hz: int, level_dbov: float) -> Samples:
    t = np.arange(int(seconds * rate_hz)) / rate_hz
    amplitude = FULL_SCALE * 10 ** (level_dbov / 20) * np.sqrt(2)
    return sum((amplitude * np.sin(2 * np.pi * f * t) for f in freqs_hz), np.zeros_like(t))


def dtmf_clip(rate_hz: int) -> Samples:
    """Keyed digits 1 5 9 # (120 ms on, 120 ms off), then a held 0 (800 ms): a caller dialling."""
    parts = [np.zeros(int(0.3 * rate_hz))]
    for digit in "159#":
        # Q.23 levels: low group about -10 dBm0, high group 2 dB louder; 0 dBm0 is -3.14 dBov.
        parts += [_tone_pair(digit, 0.12, rate_hz), np.zeros(int(0.12 * rate_hz))]
    parts += [_tone_pair("0", 0.8, rate_hz), np.zeros(int(0.3 * rate_hz))]
    return np.concatenate(parts)


def _tone_pair(digit: str, seconds: float, rate_hz: int) -> Samples:
    low_hz, high_hz = DTMF_HZ[digit]
    return _tone((low_hz,), seconds, rate_hz, -13.1) + _tone((high_hz,), seconds, rate_hz, -11.1)


def click_clip(rate_hz: int) -> Samples:
    """Three clicks in silence: a one-sample spike, a 2 ms noise burst and a 5 ms pop."""
    clip = np.zeros(int(2.0 * rate_hz))
    clip[int(0.5 * rate_hz)] = 0.7 * FULL_SCALE
    burst = np.random.default_rng(5).standard_normal(int(0.002 * rate_hz))
    start = int(1.0 * rate_hz)
    clip[start : start + len(burst)] = (
        burst * 0.25 * FULL_SCALE * np.exp(-np.arange(len(burst)) / 5)
    )
    pop = np.sin(np.pi * np.arange(int(0.005 * rate_hz)) / (0.005 * rate_hz)) * 0.5 * FULL_SCALE
    start = int(1.5 * rate_hz)
    clip[start : start + len(pop)] = pop
    return clip


def _espeak(voice: str, text: str) -> tuple[Samples, int]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text], check=True)
        samples, rate_hz = read_wav(path)
    voiced = np.nonzero(np.abs(samples) > ONSET_THRESHOLD)[0]
    return samples[voiced[0] : voiced[-1] + 1], rate_hz


def speech_clip(
    voice: str, phrases: tuple[str, str], rate_hz: int
) -> tuple[Samples, list[dict[str, Any]]]:
    """Two phrases with silence around them at the nominal level, and where each one lies."""
    pieces: list[Samples] = [np.zeros(int(LEAD_S * rate_hz))]
    segments: list[dict[str, Any]] = []
    position = len(pieces[0])
    for index, text in enumerate(phrases):
        spoken, source_hz = _espeak(voice, text)
        spoken = soxr.resample(spoken, source_hz, rate_hz, quality="VHQ")
        segments.append(
            {"onset_ms": round(1000 * position / rate_hz), "offset_ms": None, "text": text}
        )
        position += len(spoken)
        segments[-1]["offset_ms"] = round(1000 * position / rate_hz)
        gap = np.zeros(int((GAP_S if index == 0 else TAIL_S) * rate_hz))
        pieces += [spoken, gap]
        position += len(gap)
    clip = np.concatenate(pieces)
    clip *= 10 ** ((SPEECH_LEVEL_DBOV - active_level_dbov(clip, rate_hz)) / 20)
    return clip, segments


def read_wav(path: Path) -> tuple[Samples, int]:
    """Mono PCM16 WAV to float samples (PCM16 scale) and the rate."""
    with wave.open(str(path), "rb") as reader:
        frames = reader.readframes(reader.getnframes())
        return np.frombuffer(frames, "<i2").astype(np.float64), reader.getframerate()


def write_wav(path: Path, samples: Samples, rate_hz: int) -> None:
    """Float samples (PCM16 scale) to a mono PCM16 WAV, rounded and clipped."""
    pcm = np.clip(np.round(samples), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate_hz)
        writer.writeframes(pcm.tobytes())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, dict[str, Any]] = {}
    for name, (voice, *phrases) in SPEECH_CLIPS.items():
        clip_24k, segments = speech_clip(voice, (phrases[0], phrases[1]), 24000)
        clip_8k = soxr.resample(clip_24k, 24000, 8000, quality="VHQ")
        clip_8k *= 10 ** ((SPEECH_LEVEL_DBOV - active_level_dbov(clip_8k, 8000)) / 20)
        rates = (8000, 24000) if name == "speech_a" else (8000,)
        for rate_hz in rates:
            file_name = f"{name}_{rate_hz // 1000}k.wav"
            write_wav(out / file_name, clip_24k if rate_hz == 24000 else clip_8k, rate_hz)
            manifest[file_name] = {
                "kind": "speech",
                "voice": voice,
                "rate_hz": rate_hz,
                "active_level_dbov": SPEECH_LEVEL_DBOV,
                "segments": segments,
            }
    for name, (colour, level, seed) in NOISE_CLIPS.items():
        make = white_noise if colour == "white" else pink_noise
        write_wav(out / f"{name}_8k.wav", make(NOISE_S, 8000, level, seed), 8000)
        manifest[f"{name}_8k.wav"] = {"kind": "noise", "rate_hz": 8000, "level_dbov": level}
    write_wav(out / "dtmf_8k.wav", dtmf_clip(8000), 8000)
    manifest["dtmf_8k.wav"] = {"kind": "tone", "rate_hz": 8000, "digits": "159#0"}
    write_wav(out / "click_8k.wav", click_clip(8000), 8000)
    manifest["click_8k.wav"] = {"kind": "click", "rate_hz": 8000, "clicks_s": [0.5, 1.0, 1.5]}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main()
