"""What a provider can do; callers branch on these records, never on the provider's class."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

AudioEncoding = Literal["pcm16", "pcmu"]


@dataclass(frozen=True, slots=True)
class AudioFormat:
    """Mono audio: PCM16 little-endian or G.711 mu-law, at a sample rate."""

    encoding: AudioEncoding
    sample_rate_hz: int


PCM16_24K = AudioFormat("pcm16", 24_000)
PCM16_16K = AudioFormat("pcm16", 16_000)
PCMU_8K = AudioFormat("pcmu", 8_000)
"""G.711 µ-law at 8 kHz: what phone carriers speak."""


@dataclass(frozen=True, slots=True)
class ProviderCapabilities:
    """The provider's side of the contract, declared once per provider."""

    input_audio: AudioFormat
    output_audio: AudioFormat
    server_vad: bool
    """The provider detects the caller's turns (and barge-in) itself."""
    truncation: bool
    """``interrupt(played_ms)`` cuts the assistant's item at what the caller heard."""
    tools: bool
    text_mode: bool
    """Chat sessions get text-only replies (no audio)."""
    input_transcription: bool
    """The caller's speech is transcribed (``Transcript(source="input")`` events)."""
