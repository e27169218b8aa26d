"""Prerecorded audio shipped with the gateway (``audio/README.md``), in each carrier's format."""

from __future__ import annotations

from functools import cache
from importlib import resources

from kinds.audio import PCMU_8K, AudioFormat
from media.formats import convert


@cache
def apology_ulaw() -> bytes:
    """ "Sorry, technical trouble, please call again": played instead of dead air on failure."""
    return resources.files("gateway.telephony").joinpath("audio/apology.ulaw").read_bytes()


CUE_FILES = {
    "holding": "holding.ulaw",
    "failover": "bridge.ulaw",
    "tool": "tool.ulaw",
    "transfer_hold": "transfer_hold.ulaw",
}
"""The engine's cues (``gateway.sessions.port.Cue``), each a short raw µ-law file."""


@cache
def cue_ulaw(cue: str) -> bytes:
    """A cue as shipped: 8 kHz µ-law."""
    return resources.files("gateway.telephony").joinpath(f"audio/{CUE_FILES[cue]}").read_bytes()


@cache
def cue_audio(cue: str, fmt: AudioFormat) -> bytes:
    """A cue in a carrier's format, converted once per cue and format."""
    return convert(cue_ulaw(cue), PCMU_8K, fmt)


@cache
def apology_audio(fmt: AudioFormat) -> bytes:
    """The apology in a carrier's format, converted once per format (µ-law is the file itself)."""
    return convert(apology_ulaw(), PCMU_8K, fmt)
