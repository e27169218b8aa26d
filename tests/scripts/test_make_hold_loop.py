"""The shipped hold chime is what ``scripts/make_hold_loop.py`` makes, and fit to loop."""

from __future__ import annotations

import numpy as np

from gateway.telephony.call_audio import cue_ulaw
from media.g711 import pcm16_to_ulaw, ulaw_to_pcm16
from scripts.make_hold_loop import LOOP_S, RATE_HZ, TARGET, hold_loop_pcm16


def test_the_committed_file_is_the_scripts_output() -> None:
    assert TARGET.read_bytes() == pcm16_to_ulaw(hold_loop_pcm16())
    assert cue_ulaw("transfer_hold") == TARGET.read_bytes()


def test_the_loop_is_soft_and_starts_and_ends_in_silence() -> None:
    samples = np.frombuffer(ulaw_to_pcm16(cue_ulaw("transfer_hold")), dtype="<i2")
    assert len(samples) == int(RATE_HZ * LOOP_S)
    assert np.abs(samples).max() < 0.2 * 32767  # quieter than speech: never startling
    edge = RATE_HZ // 50  # 20 ms: the seam between two loops must not click
    assert np.abs(samples[:edge]).max() < 200 and np.abs(samples[-edge:]).max() < 200
