#!/usr/bin/env python3
"""Measure what dual recording costs per call, in process: the recorder path alone.

Drives ``--calls`` sessions' taps (``SessionTap``, the engine's hot-path entry) on one event
loop with the frames of a phone call on the local provider (µ-law 8 kHz both ways, as in
``loadtest.py --spawn --record dual``): a 20 ms caller frame per tick, and while the assistant
speaks a 60 ms agent chunk every third tick (the local provider's chunk), a new item every 2 s
and a barge-in cut every fourth item. Each round runs the same frames twice, plain (no recorder)
and recorded (dual WAV into a temporary directory, with its writer task), and prints the CPU time
of each and the difference per call-second. The loop does not sleep between ticks: the figure is
CPU, not wall time, so it holds on a shared machine; ``--repeats`` rounds, median taken.

    python scripts/bench_recording.py --calls 50 --seconds 60
    valgrind --tool=callgrind python scripts/bench_recording.py --only recorded ...   # vs plain
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.sessions.monitor import SessionTap
from gateway.sessions.recording import SessionRecorder
from tests.fakes.phone_plan import phone_plan

FRAME_MS = 20
ULAW_20MS = bytes(range(0, 256, 2)) + bytes(range(1, 64, 2))  # 160 bytes of varied µ-law
ULAW_60MS = ULAW_20MS * 3
ITEM_TICKS = 100  # 2 s per assistant item


async def _round(calls: int, seconds: float, record_dir: Path | None) -> None:
    plan = phone_plan("bench")
    taps = [SessionTap(plan) for _ in range(calls)]
    writers = []
    for n, tap in enumerate(taps):
        if record_dir is not None:
            tap.recorder = SessionRecorder(record_dir / f"{n}.wav", plan, "dual")
            writers.append(asyncio.create_task(tap.recorder.run()))
    for tick in range(int(seconds * 1000 / FRAME_MS)):
        item, phase = divmod(tick, ITEM_TICKS)
        speaking = item % 2 == 0  # the assistant speaks every other 2 s
        for tap in taps:
            tap.caller_audio(ULAW_20MS)
            if speaking and phase % 3 == 0:
                tap.assistant_audio(ULAW_60MS, f"item-{item}")
            if speaking and phase == ITEM_TICKS - 1 and item % 8 == 0:
                tap.cut(1500)
        await asyncio.sleep(0)  # one loop pass per tick: the writers run when woken
    for tap in taps:
        if tap.recorder is not None:
            tap.recorder.finish()
    await asyncio.gather(*writers)


def _cpu_s(calls: int, seconds: float, record_dir: Path | None) -> float:
    started = time.process_time()
    asyncio.run(_round(calls, seconds, record_dir))
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0, help="of audio per call")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", choices=("plain", "recorded"), help="one run (for callgrind)")
    args = parser.parse_args()
    call_s = args.calls * args.seconds
    with tempfile.TemporaryDirectory() as tmp:
        if args.only:
            cpu = _cpu_s(args.calls, args.seconds, Path(tmp) if args.only == "recorded" else None)
            print(f"{args.only} calls={args.calls} seconds={args.seconds:g} cpu={cpu:.3f} s")
            return
        added_us: list[float] = []
        for repeat in range(args.repeats):
            plain = _cpu_s(args.calls, args.seconds, None)
            recorded = _cpu_s(args.calls, args.seconds, Path(tmp))
            added_us.append((recorded - plain) / call_s * 1e6)
            print(
                f"round {repeat + 1} calls={args.calls} seconds={args.seconds:g} "
                f"cpu plain={plain:.3f} s recorded={recorded:.3f} s "
                f"recording={added_us[-1]:.1f} µs per call-second"
            )
        written = sum(f.stat().st_size for f in Path(tmp).glob("*.wav"))
    median = statistics.median(added_us)
    print(
        f"recording costs {median:.1f} µs CPU per call-second (median of {args.repeats}), "
        f"{median / 1e4:.4f} % of one core per recorded call; last WAVs {written / 1e6:.1f} MB"
    )


if __name__ == "__main__":
    main()
