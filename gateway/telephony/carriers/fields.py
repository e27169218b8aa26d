"""Reading a carrier's JSON frame field by field, for the pure codecs.

Each reader raises ``Malformed`` for a missing or mistyped field; a codec's ``decode`` turns
that into ``None``, so a hostile or buggy peer can never crash the bridge.
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from typing import Any

from gateway.telephony.carriers.codec import CodecError


class Malformed(Exception):
    """This frame is not one we understand; ``decode`` answers ``None``."""


def obj(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise Malformed(key)
    return value


def text(data: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise Malformed(key)
    return value


def count(data: Mapping[str, Any], key: str) -> int:
    """Counters arrive as strings ("3") or as JSON numbers; accept both, never negative."""
    value = data.get(key)
    if type(value) is str:  # exact types: cheaper per frame, and a bool is not an int here
        if value.isdigit() and value.isascii() and len(value) <= 18:
            return int(value)
    elif type(value) is int and value >= 0:
        return value
    raise Malformed(key)


def media_frame(head: bytes, audio: object) -> bytes:
    """A JSON media frame: ``head`` (the frame up to the opening quote of its base64 payload),
    the payload, and the closing ``"}}``. Built by concatenation: fifty a second per call while
    the agent talks, so no dict is serialised."""
    if not isinstance(audio, bytes | bytearray | memoryview):
        raise CodecError("media payload must be bytes")
    return head + binascii.b2a_base64(audio, newline=False) + b'"}}'
