"""Prerecorded µ-law audio shipped with the gateway (see ``audio/README.md``)."""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def apology_ulaw() -> bytes:
    """ "Sorry, technical trouble, please call again": played instead of dead air on failure."""
    return resources.files("gateway.telephony").joinpath("audio/apology.ulaw").read_bytes()
