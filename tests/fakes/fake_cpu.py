"""The line a fake provider run as a process prints at exit: its CPU time while serving, so a
load test can report the fake's share of the machine next to the gateway's."""

from __future__ import annotations

import asyncio
import os
import signal
import time


def cpu_seconds() -> float:
    """This process's CPU time so far (user + system)."""
    times = os.times()
    return times.user + times.system


def cpu_line(prefix: str, cpu_s: float, wall_s: float) -> str:
    """``<prefix><cpu> s over <wall> s (<pct> % of a core)``."""
    share = cpu_s / wall_s * 100 if wall_s > 0 else 0.0
    return f"{prefix}{cpu_s:.2f} s over {wall_s:.1f} s ({share:.1f} % of a core)"


async def serve_until_stopped(prefix: str) -> None:
    """Wait for SIGTERM or SIGINT, then print the CPU line (start-up excluded)."""
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    started, cpu_at_start = time.monotonic(), cpu_seconds()
    try:
        await stop.wait()
    finally:
        wall_s = time.monotonic() - started
        print(cpu_line(prefix, cpu_seconds() - cpu_at_start, wall_s), flush=True)
