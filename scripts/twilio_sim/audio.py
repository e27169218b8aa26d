"""Caller audio in, agent audio out: WAV files ↔ 8 kHz µ-law, cut into 20 ms Twilio frames.

Frames are base64-encoded once, here, and shared by every call that plays the same source, so
a loaded simulator only formats a JSON string per frame. Any WAV the ``wave`` module reads
(8/16/24/32-bit integer PCM, any channel count) is mixed to mono and resampled to 8 kHz with
the gateway's own ``media.resample.StreamResampler`` (soxr for rate pairs it does not take,
such as 44.1 kHz, which are fine offline).
"""

from __future__ import annotations

import base64
import json
import wave
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from media.g711 import ULAW_SILENCE, pcm16_to_ulaw, ulaw_to_pcm16
from media.resample import StreamResampler

RATE_HZ = 8000
FRAME_MS = 20
FRAME_BYTES = RATE_HZ * FRAME_MS // 1000  # 160 µ-law bytes per 20 ms frame
FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "audio"
SPEECH_CLIPS = ("speech_a_8k.wav", "speech_b_8k.wav", "speech_c_8k.wav")
TAIL_MS = 600  # silence kept after the last phrase, as the fixtures have
MAX_WAV_S = 600  # a longer caller file is a mistake, not a test
SILENCE_BYTE = bytes([ULAW_SILENCE])


@dataclass(frozen=True, slots=True)
class Clip:
    """Caller audio as ready-to-send frames; ``onset_ms`` = its first voiced sample, if known,
    and ``phrase_onsets_ms`` every phrase's (built-in clips know them from the manifest)."""

    name: str
    frames_b64: tuple[str, ...]
    onset_ms: int | None
    phrase_onsets_ms: tuple[int, ...] = ()

    @property
    def duration_ms(self) -> int:
        return len(self.frames_b64) * FRAME_MS


def silence_frame_b64() -> str:
    """One 20 ms frame of µ-law silence, base64."""
    return base64.b64encode(SILENCE_BYTE * FRAME_BYTES).decode("ascii")


def frames_b64(ulaw: bytes) -> tuple[str, ...]:
    """µ-law cut into 20 ms frames (the last padded with silence), each base64-encoded."""
    padded = ulaw + SILENCE_BYTE * (-len(ulaw) % FRAME_BYTES)
    return tuple(
        base64.b64encode(padded[i : i + FRAME_BYTES]).decode("ascii")
        for i in range(0, len(padded), FRAME_BYTES)
    )


@cache
def manifest() -> dict[str, Any]:
    """tests/fixtures/audio/manifest.json: per speech clip, its phrases' onset/offset in ms."""
    loaded: dict[str, Any] = json.loads((FIXTURES / "manifest.json").read_text())
    return loaded


def _to_mono_int16(raw: bytes, width: int, channels: int) -> npt.NDArray[np.int16]:
    if width == 1:  # 8-bit WAV is unsigned
        samples = (np.frombuffer(raw, np.uint8).astype(np.int32) - 128) << 8
    elif width == 2:
        samples = np.frombuffer(raw, "<i2").astype(np.int32)
    elif width == 3:
        bytes3 = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        samples = ((bytes3[:, 0] | bytes3[:, 1] << 8 | bytes3[:, 2] << 16) << 8) >> 16
    elif width == 4:
        samples = np.frombuffer(raw, "<i4") >> 16
    else:
        raise ValueError(f"unsupported WAV sample width: {width} bytes")
    mono = samples.reshape(-1, channels).mean(axis=1) if channels > 1 else samples
    out: npt.NDArray[np.int16] = np.clip(mono, -32768, 32767).astype(np.int16)
    return out


def _resample(pcm16: bytes, rate_hz: int) -> bytes:
    if rate_hz == RATE_HZ:
        return pcm16
    try:
        resampler = StreamResampler(rate_hz, RATE_HZ)
    except ValueError:  # e.g. 44.1 kHz: a ratio the call-path resampler does not take
        import soxr

        samples = np.frombuffer(pcm16, "<i2").astype(np.float32)
        out = soxr.resample(samples, rate_hz, RATE_HZ)
        return bytes(np.clip(np.round(out), -32768, 32767).astype("<i2").tobytes())
    return resampler.process(pcm16) + resampler.flush()


def wav_to_ulaw(path: Path) -> bytes:
    """A WAV file as 8 kHz mono µ-law, whatever its rate, width and channel count."""
    with wave.open(str(path), "rb") as reader:
        rate_hz, width, channels = (
            reader.getframerate(),
            reader.getsampwidth(),
            reader.getnchannels(),
        )
        if reader.getnframes() > MAX_WAV_S * rate_hz:
            raise ValueError(f"{path} is longer than {MAX_WAV_S} s")
        raw = reader.readframes(reader.getnframes())
    pcm16 = _to_mono_int16(raw, width, channels).astype("<i2").tobytes()
    return pcm16_to_ulaw(_resample(pcm16, rate_hz))


def speech_clip(name: str, phrases: int | None = None) -> Clip:
    """A built-in speech clip, whole or cut after ``phrases`` phrases (plus 600 ms of tail)."""
    entry = manifest().get(name)
    if entry is None or entry.get("kind") != "speech":
        raise ValueError(f"{name} is not a speech clip; choose one of {', '.join(SPEECH_CLIPS)}")
    ulaw = wav_to_ulaw(FIXTURES / name)
    segments = entry["segments"]
    if phrases is not None:
        if not 1 <= phrases <= len(segments):
            raise ValueError(f"{name} has {len(segments)} phrases")
        end_ms = segments[phrases - 1]["offset_ms"] + TAIL_MS
        ulaw = ulaw[: end_ms * RATE_HZ // 1000]
        segments = segments[:phrases]
    onsets = tuple(int(segment["onset_ms"]) for segment in segments)
    return Clip(name, frames_b64(ulaw), onsets[0], onsets)


def wav_clip(path: Path) -> Clip:
    """Any WAV file as a clip; its onset is unknown."""
    return Clip(path.name, frames_b64(wav_to_ulaw(path)), None)


def load_clip(spec: str) -> Clip:
    """``speech_a_8k.wav`` / ``speech_a_8k.wav:1`` (first phrase only) / a path to a WAV."""
    name, _, phrases = spec.partition(":")
    if name in SPEECH_CLIPS:
        return speech_clip(name, int(phrases) if phrases else None)
    return wav_clip(Path(spec))


def write_ulaw_wav(path: Path, ulaw: bytes) -> None:
    """8 kHz µ-law as a mono PCM16 WAV that any player opens."""
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(RATE_HZ)
        writer.writeframes(ulaw_to_pcm16(ulaw))
