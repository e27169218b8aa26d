"""G.711 against reference tables built from the segment structure of ITU-T G.711."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from media.g711 import (
    ALAW_SILENCE,
    ULAW_SILENCE,
    alaw_to_pcm16,
    pcm16_to_alaw,
    pcm16_to_ulaw,
    ulaw_to_pcm16,
)

ALL_CODES = bytes(range(256))
ALL_PCM16 = np.arange(-32768, 32768, dtype="<i2")


def _ulaw_level(code: int) -> int:
    """G.711 µ-law reconstruction level in 14-bit units (Table 2a), sign applied."""
    inverted = ~code & 0xFF
    exponent, mantissa = (inverted >> 4) & 7, inverted & 0x0F
    magnitude = ((2 * mantissa + 33) << exponent) - 33
    return -magnitude if inverted & 0x80 else magnitude


def _alaw_level(code: int) -> int:
    """G.711 A-law reconstruction level in 13-bit units (Table 1a), sign applied."""
    toggled = code ^ 0x55
    exponent, mantissa = (toggled >> 4) & 7, toggled & 0x0F
    magnitude = 2 * mantissa + 1 if exponent == 0 else (2 * mantissa + 33) << (exponent - 1)
    return magnitude if toggled & 0x80 else -magnitude


def _ulaw_interval(code: int) -> tuple[int, int]:
    """Decision interval [low, high) of a µ-law code on the 14-bit magnitude (clipped at 8158)."""
    inverted = ~code & 0xFF
    exponent, mantissa = (inverted >> 4) & 7, inverted & 0x0F
    step = 2 << exponent
    low = (16 + mantissa) * step - 33
    return max(low, 0), (low + step) if (exponent, mantissa) != (7, 15) else 1 << 14


def _alaw_interval(code: int) -> tuple[int, int]:
    """Decision interval [low, high) of an A-law code on the 13-bit magnitude."""
    toggled = code ^ 0x55
    exponent, mantissa = (toggled >> 4) & 7, toggled & 0x0F
    if exponent == 0:
        return 2 * mantissa, 2 * mantissa + 2
    step = 1 << exponent
    high = (17 + mantissa) * step
    return (16 + mantissa) * step, high if (exponent, mantissa) != (7, 15) else 1 << 13


def test_ulaw_decoding_matches_the_g711_table() -> None:
    decoded = np.frombuffer(ulaw_to_pcm16(ALL_CODES), "<i2")
    expected = [4 * _ulaw_level(code) for code in range(256)]
    assert decoded.tolist() == expected


def test_alaw_decoding_matches_the_g711_table() -> None:
    decoded = np.frombuffer(alaw_to_pcm16(ALL_CODES), "<i2")
    expected = [8 * _alaw_level(code) for code in range(256)]
    assert decoded.tolist() == expected


def test_ulaw_encoding_follows_the_g711_decision_levels_for_every_pcm16_value() -> None:
    codes = np.frombuffer(pcm16_to_ulaw(ALL_PCM16.tobytes()), np.uint8)
    # 14-bit input by arithmetic shift; the sign-magnitude coder then quantises |x|.
    x14 = ALL_PCM16.astype(np.int32) >> 2
    for value, code in zip(x14.tolist(), codes.tolist(), strict=True):
        low, high = _ulaw_interval(code)
        assert low <= abs(value) < high, (value, code)
        negative = (~code & 0x80) != 0
        assert negative == (value < 0) or value == 0, (value, code)


def test_alaw_encoding_follows_the_g711_decision_levels_for_every_pcm16_value() -> None:
    codes = np.frombuffer(pcm16_to_alaw(ALL_PCM16.tobytes()), np.uint8)
    # 13-bit input by arithmetic shift; negatives are coded in one's complement (-x - 1).
    x13 = ALL_PCM16.astype(np.int32) >> 3
    for value, code in zip(x13.tolist(), codes.tolist(), strict=True):
        magnitude = value if value >= 0 else -value - 1
        low, high = _alaw_interval(code)
        assert low <= magnitude < high, (value, code)
        assert ((code ^ 0x55) & 0x80 == 0) == (value < 0), (value, code)


@pytest.mark.parametrize(
    ("decode", "encode"), [(ulaw_to_pcm16, pcm16_to_ulaw), (alaw_to_pcm16, pcm16_to_alaw)]
)
def test_every_code_survives_a_decode_encode_round_trip(
    decode: Callable[[bytes], bytes], encode: Callable[[bytes], bytes]
) -> None:
    round_trip = encode(decode(ALL_CODES))
    # µ-law has two zeros (0x7F and 0xFF); the encoder always picks positive zero.
    negative_zero = 0x7F if decode is ulaw_to_pcm16 else None
    expected = bytes(ULAW_SILENCE if code == negative_zero else code for code in ALL_CODES)
    assert round_trip == expected


def test_silence_codes_decode_to_zero() -> None:
    assert ulaw_to_pcm16(bytes([ULAW_SILENCE])) == b"\x00\x00"
    assert pcm16_to_ulaw(b"\x00\x00") == bytes([ULAW_SILENCE])
    assert pcm16_to_alaw(b"\x00\x00") == bytes([ALAW_SILENCE])
    assert abs(int.from_bytes(alaw_to_pcm16(bytes([ALAW_SILENCE])), "little", signed=True)) == 8


def test_lengths_and_empty_input() -> None:
    assert ulaw_to_pcm16(b"") == b"" and pcm16_to_ulaw(b"") == b""
    assert len(ulaw_to_pcm16(bytes(160))) == 320
    assert len(pcm16_to_alaw(bytes(320))) == 160
