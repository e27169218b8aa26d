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


@cache
def apology_audio(fmt: AudioFormat) -> bytes:
    """The apology in a carrier's format, converted once per format (µ-law is the file itself)."""
    return convert(apology_ulaw(), PCMU_8K, fmt)
