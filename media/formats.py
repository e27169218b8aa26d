"""What the media code does per audio format: decode to PCM16, encode from it, play silence.

The formats a carrier may speak are G.711 µ-law or A-law at 8 kHz and L16 (PCM16, always
little-endian here: a carrier that sends network byte order is swapped by its codec, at the
edge) at 8, 16 or 24 kHz. The chains look their steps up here once per call, so the per-frame
path holds plain functions and no branch on the format.
"""

from __future__ import annotations

from collections.abc import Callable

from kinds.audio import PCM16_8K, PCM16_16K, PCM16_24K, PCMA_8K, PCMU_8K, AudioFormat
from media.g711 import (
    ALAW_SILENCE,
    ULAW_SILENCE,
    alaw_to_pcm16,
    pcm16_to_alaw,
    pcm16_to_ulaw,
    ulaw_to_pcm16,
)
from media.resample import StreamResampler

__all__ = [
    "CARRIER_FORMATS",
    "Codec",
    "check_format",
    "convert",
    "decoder",
    "encoder",
    "silence_byte",
]

Codec = Callable[[bytes], bytes]

CARRIER_FORMATS = (PCMU_8K, PCMA_8K, PCM16_8K, PCM16_16K, PCM16_24K)
"""Every format the chains carry to or from a carrier (and any of them at the port)."""


def _same(audio: bytes) -> bytes:
    return audio


_DECODERS: dict[str, Codec] = {"pcmu": ulaw_to_pcm16, "pcma": alaw_to_pcm16, "pcm16": _same}
_ENCODERS: dict[str, Codec] = {"pcmu": pcm16_to_ulaw, "pcma": pcm16_to_alaw, "pcm16": _same}
# The byte that repeats into silence: G.711's codes of PCM 0; L16's zero samples.
_SILENCE = {"pcmu": ULAW_SILENCE, "pcma": ALAW_SILENCE, "pcm16": 0x00}


def check_format(fmt: AudioFormat) -> AudioFormat:
    """``fmt`` if the chains carry it; ``ValueError`` otherwise (G.711 at 16 kHz, L16 at 48)."""
    if fmt not in CARRIER_FORMATS:
        raise ValueError(f"the media chains do not carry {fmt.encoding} at {fmt.sample_rate_hz} Hz")
    return fmt


def decoder(fmt: AudioFormat) -> Codec:
    """``fmt`` bytes → PCM16 at ``fmt``'s rate (L16 is returned as it is)."""
    return _DECODERS[check_format(fmt).encoding]


def encoder(fmt: AudioFormat) -> Codec:
    """PCM16 at ``fmt``'s rate → ``fmt`` bytes (L16 is returned as it is)."""
    return _ENCODERS[check_format(fmt).encoding]


def silence_byte(fmt: AudioFormat) -> int:
    """The byte whose repetition is silence in ``fmt``: 0xFF µ-law, 0xD5 A-law, 0x00 L16."""
    return _SILENCE[check_format(fmt).encoding]


def convert(audio: bytes, source: AudioFormat, target: AudioFormat) -> bytes:
    """Convert a whole clip (a prerecorded prompt) at once; not for streams."""
    if source == target:
        return audio
    resampler = StreamResampler(source.sample_rate_hz, target.sample_rate_hz)
    pcm = decoder(source)(audio)
    return encoder(target)(resampler.process(pcm) + resampler.flush())
