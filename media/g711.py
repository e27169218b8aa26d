"""G.711 µ-law and A-law ↔ PCM16 (little-endian, mono), bit-exact with the ITU-T G.711 tables.

The work is done in C by the stdlib ``audioop`` (Python 3.11/3.12) or its ``audioop-lts`` port
(3.13+), which implement the classic Sun/CCITT ``g711.c`` quantiser: PCM16 is reduced to the 14-bit
(µ-law) or 13-bit (A-law) G.711 input by an arithmetic right shift, then segment-coded.
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    # The stdlib module warns that it leaves in 3.13; pyproject installs audioop-lts there.
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

__all__ = [
    "ALAW_SILENCE",
    "ULAW_SILENCE",
    "alaw_to_pcm16",
    "pcm16_to_alaw",
    "pcm16_to_ulaw",
    "ulaw_to_pcm16",
]

ULAW_SILENCE = 0xFF
"""µ-law code of PCM 0 (positive zero): what a carrier plays as silence."""

ALAW_SILENCE = 0xD5
"""A-law code of PCM 0 (smallest positive level, 0x80 ^ 0x55)."""

_PCM16_WIDTH = 2


def ulaw_to_pcm16(data: bytes) -> bytes:
    """Decode µ-law bytes to PCM16 (two bytes out per byte in)."""
    return audioop.ulaw2lin(data, _PCM16_WIDTH)


def pcm16_to_ulaw(data: bytes) -> bytes:
    """Encode PCM16 (even byte count) to µ-law, one byte per sample."""
    return audioop.lin2ulaw(data, _PCM16_WIDTH)


def alaw_to_pcm16(data: bytes) -> bytes:
    """Decode A-law bytes to PCM16 (two bytes out per byte in)."""
    return audioop.alaw2lin(data, _PCM16_WIDTH)


def pcm16_to_alaw(data: bytes) -> bytes:
    """Encode PCM16 (even byte count) to A-law, one byte per sample."""
    return audioop.lin2alaw(data, _PCM16_WIDTH)
