"""Audio formats, each defined once: what a client, a carrier or a provider speaks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

AudioEncoding = Literal["pcm16", "pcmu", "pcma"]


@dataclass(frozen=True, slots=True)
class AudioFormat:
    """Mono audio: PCM16 little-endian, or G.711 µ-law or A-law, at a sample rate."""

    encoding: AudioEncoding
    sample_rate_hz: int

    @property
    def bytes_per_ms(self) -> int:
        """Bytes per millisecond: 2 per sample for PCM16, 1 for G.711."""
        per_sample = 2 if self.encoding == "pcm16" else 1
        return self.sample_rate_hz * per_sample // 1000


PCM16_24K = AudioFormat("pcm16", 24_000)
"""The Kura session protocol's audio, and OpenAI Realtime's and Gemini Live's output."""
PCM16_16K = AudioFormat("pcm16", 16_000)
"""Gemini Live's input."""
PCM16_8K = AudioFormat("pcm16", 8_000)
"""Decoded telephone audio."""
PCMU_8K = AudioFormat("pcmu", 8_000)
"""G.711 µ-law at 8 kHz: what North American phone carriers speak."""
PCMA_8K = AudioFormat("pcma", 8_000)
"""G.711 A-law at 8 kHz: what most carriers outside North America speak."""
