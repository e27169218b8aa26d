"""Load the audio fixtures of tests/fixtures/audio (see its README) and build test signals."""

from __future__ import annotations

import json
import wave
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from media.g711 import pcm16_to_ulaw, ulaw_to_pcm16

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "audio"
SPEECH_8K = ("speech_a_8k.wav", "speech_b_8k.wav", "speech_c_8k.wav")
NOISE_8K = (
    "white_-40dbov_8k.wav",
    "white_-30dbov_8k.wav",
    "pink_-40dbov_8k.wav",
    "pink_-30dbov_8k.wav",
)

Samples = npt.NDArray[np.float64]


@cache
def manifest() -> dict[str, Any]:
    """What each fixture is; speech entries list their phrases' onset_ms and offset_ms."""
    loaded: dict[str, Any] = json.loads((FIXTURES / "manifest.json").read_text())
    return loaded


def load(name: str) -> Samples:
    """A fixture's samples as floats on the PCM16 scale."""
    with wave.open(str(FIXTURES / name), "rb") as reader:
        assert reader.getframerate() == manifest()[name]["rate_hz"]
        return np.frombuffer(reader.readframes(reader.getnframes()), "<i2").astype(np.float64)


def mix(speech: Samples, noise_name: str) -> Samples:
    """Speech with a noise fixture added under it (the noise loops if shorter)."""
    noise = load(noise_name)
    return speech + np.resize(noise, len(speech))


def to_pcm16(samples: Samples) -> bytes:
    """Round and clip float samples to PCM16 bytes."""
    return np.clip(np.round(samples), -32768, 32767).astype("<i2").tobytes()


def via_ulaw(samples: Samples) -> bytes:
    """PCM16 as the gateway receives it from a carrier: through a µ-law round trip."""
    return ulaw_to_pcm16(pcm16_to_ulaw(to_pcm16(samples)))


def frames(pcm16: bytes, frame_bytes: int = 320) -> list[bytes]:
    """Whole frames of ``frame_bytes`` (default 20 ms at 8 kHz)."""
    return [pcm16[i : i + frame_bytes] for i in range(0, len(pcm16) - frame_bytes + 1, frame_bytes)]
