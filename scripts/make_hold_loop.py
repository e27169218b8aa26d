"""Make ``gateway/telephony/audio/transfer_hold.ulaw``: the loop a caller hears while a warm
transfer rings a human. Reproducible (no randomness, no external tools): a soft two-note chime,
then quiet, 3 s in all, so the loop restarts seamlessly and a caller who talks over it (which
clears the carrier's queue) waits at most one loop for it to come back.

    python scripts/make_hold_loop.py            # writes the file
    python scripts/make_hold_loop.py --check    # exits 1 if the committed file differs
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from media.g711 import pcm16_to_ulaw

RATE_HZ = 8000
LOOP_S = 3.0
NOTES_HZ = (523.25, 659.25)  # C5 then E5: soft and unmistakably "please wait"
NOTE_S = 0.45
PEAK = 0.12 * 32767  # about -18 dBFS: audible on a phone, never loud
TARGET = Path(__file__).parents[1] / "gateway" / "telephony" / "audio" / "transfer_hold.ulaw"


def hold_loop_pcm16() -> bytes:
    """The loop as 8 kHz PCM16: each note with a raised-cosine envelope (no clicks)."""
    loop = np.zeros(int(RATE_HZ * LOOP_S), dtype=np.float64)
    note_len = int(RATE_HZ * NOTE_S)
    t = np.arange(note_len) / RATE_HZ
    envelope = np.sin(np.pi * t / NOTE_S) ** 2
    for index, frequency in enumerate(NOTES_HZ):
        start = int(index * RATE_HZ * (NOTE_S + 0.1))
        tone = np.sin(2 * np.pi * frequency * t) + 0.3 * np.sin(4 * np.pi * frequency * t)
        loop[start : start + note_len] += PEAK * envelope * tone / 1.3
    return np.round(loop).astype("<i2").tobytes()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed file")
    args = parser.parse_args()
    audio = pcm16_to_ulaw(hold_loop_pcm16())
    if args.check:
        same = TARGET.exists() and TARGET.read_bytes() == audio
        print("up to date" if same else f"{TARGET} differs: run this script")
        return 0 if same else 1
    TARGET.write_bytes(audio)
    print(f"wrote {TARGET} ({len(audio)} bytes, {len(audio) / RATE_HZ:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
