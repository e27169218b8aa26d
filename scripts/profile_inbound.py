#!/usr/bin/env python3
"""The cost of one call's inbound media path per 20 ms frame, as a load-test call sees it.

    .venv/bin/python scripts/profile_inbound.py [--hiss] [--callgrind]

The load test's caller (``speech_a_8k.wav``, its pauses digital silence, then 3 s of digital
silence, looped four times) goes through what a phone call on the local provider runs: an
``InboundChain`` at µ-law with noise suppression, the echo guard and the interruption policy,
while the agent plays each utterance back after it (the local provider's echo), so the guard
and the policy see the agent talking over the caller's next loop. ``--hiss`` adds a -55 dBov
line hiss (no digital silence left). Prints the process CPU time per frame (best of five: the
machine is shared), or with ``--callgrind`` the instructions per frame counted by valgrind (a
run with the call and one without, subtracted): stable whatever else the machine runs.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_signals import load, pcm16  # noqa: E402
from make_bargein_corpus import background  # noqa: E402

from kinds.audio import PCMU_8K  # noqa: E402
from kinds.interruption import InterruptionSettings  # noqa: E402
from media.chains import InboundChain  # noqa: E402
from media.g711 import pcm16_to_ulaw  # noqa: E402

RATE_HZ = 8000
FRAME = RATE_HZ // 50
GAP_S = 3  # the load test's --gap-s default
LOOPS = 4


def caller_frames(hiss: bool) -> tuple[list[bytes], int]:
    """The caller's µ-law frames and the clip's length in frames."""
    speech = load("speech_a_8k.wav")
    line = np.tile(np.concatenate([speech, np.zeros(GAP_S * RATE_HZ)]), LOOPS)
    if hiss:
        line = line + background(len(line) / RATE_HZ, 7, -55.0)[: len(line)]
    count = len(line) // FRAME
    frames = [pcm16_to_ulaw(pcm16(line[i * FRAME : (i + 1) * FRAME])) for i in range(count)]
    return frames, len(speech) // FRAME


def run_call(frames: list[bytes], clip_frames: int) -> None:
    """One call: every caller frame through the chain, the agent echoing each loop's clip."""
    chain = InboundChain(
        PCMU_8K, PCMU_8K, noise_suppression=True, interruption=InterruptionSettings()
    )
    period = clip_frames + GAP_S * 50
    for index, frame in enumerate(frames):
        position = index % period
        agent = clip_frames <= position < 2 * clip_frames
        if agent:
            chain.agent_played(frames[index - clip_frames])
        chain.process(frame, agent)


def _instructions(hiss: bool, calls: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable]
        command += [__file__, "--calls", str(calls), *(["--hiss"] if hiss else [])]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
    found = re.search(r"Collected\s*:\s*([0-9]+)", done.stderr) or re.search(
        r"I\s+refs:\s*([0-9,]+)", done.stderr
    )
    if found is None:
        raise SystemExit(f"no instruction count in valgrind's output:\n{done.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hiss", action="store_true", help="-55 dBov hiss on the line")
    parser.add_argument("--callgrind", action="store_true", help="count instructions (valgrind)")
    parser.add_argument("--calls", type=int, help=argparse.SUPPRESS)  # one run, no report
    args = parser.parse_args()
    frames, clip_frames = caller_frames(args.hiss)
    line = "load-test caller" + (", -55 dBov hiss" if args.hiss else "")
    if args.calls is not None:
        for _ in range(args.calls):
            run_call(frames, clip_frames)
        return
    if args.callgrind:
        per_frame = (_instructions(args.hiss, 1) - _instructions(args.hiss, 0)) / len(frames)
        print(f"inbound chain, {line}: {per_frame:,.0f} instructions per frame (callgrind)")
        return
    runs = []
    for _ in range(5):
        started = time.process_time()
        run_call(frames, clip_frames)
        runs.append(time.process_time() - started)
    best, median = min(runs), sorted(runs)[2]
    print(
        f"inbound chain, {line}: CPU per frame best {best / len(frames) * 1e6:.1f} µs, "
        f"median {median / len(frames) * 1e6:.1f} µs ({len(frames)} frames, 5 runs)"
    )


if __name__ == "__main__":
    main()
