#!/usr/bin/env python3
"""CPU of the gateway's provider leg: N concurrent sessions against a fake provider process.

    .venv/bin/python scripts/profile_provider_leg.py --provider openai --calls 100
    .venv/bin/python scripts/profile_provider_leg.py --provider gemini --calls 100 --repeat 3
    .venv/bin/python scripts/profile_provider_leg.py --provider openai --format pcm24

Runs the provider sessions of ``--calls`` calls in this process (``OpenAIRealtimeProvider`` or
``GeminiLiveProvider``, as the gateway runs them) against the fake provider in its own process
(``tests.fakes.openai_realtime`` or ``tests.fakes.gemini_live_default``), and plays each call's
caller audio to it on one 20 ms timer: ``SPEECH_MS`` of loud audio, then ``SILENCE_MS`` of
quiet, in a loop, in the format a phone call sends (OpenAI: 8 kHz µ-law passed through; Gemini:
PCM16 16 kHz). The fakes' server VAD ends each turn and they answer with audio.

Prints, per run: this process's CPU time (user + system, not wall time, so other load on the
machine barely moves it) per call and 20 ms of call time, in µs, which is the provider leg in
both directions (caller audio out, agent audio and events in); the fake's own CPU the same
way (from ``/proc``); the audio frames each way; and the turn timing the caller would feel:
from the end of the caller's speech to the first agent audio (p50 / p90), which holds the
fake's silence window and think time (500 + 300 ms) plus what the leg adds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kinds.audio import PCM16_16K, PCM16_24K, PCMU_8K, AudioFormat  # noqa: E402
from kinds.clock import SystemClock  # noqa: E402
from providers.base import ProviderSession  # noqa: E402
from providers.events import AgentAudio, ProviderFailed  # noqa: E402
from providers.gemini_live import GeminiLiveProvider  # noqa: E402
from providers.openai_realtime import OpenAIRealtimeProvider  # noqa: E402
from providers.spec import AssistantSpec, SessionContext  # noqa: E402
from providers.toolkit.batch import DEFAULT_BATCH_MS  # noqa: E402
from scripts.twilio_sim.gateway_proc import GEMINI_PATH, cpu_seconds, free_port  # noqa: E402

FRAME_MS = 20
SPEECH_MS = 1_000
SILENCE_MS = 2_000
WARMUP_S = 2.0
"""Calls start and greet before the measured window opens."""
START_TIMEOUT_S = 20.0

FAKES = {
    "openai": ("tests.fakes.openai_realtime", "fake OpenAI Realtime on "),
    "gemini": ("tests.fakes.gemini_live_default", "fake Gemini Live on "),
}
FORMATS = {"pcmu": PCMU_8K, "pcm24": PCM16_24K, "pcm16": PCM16_16K}


def frame_audio(fmt: AudioFormat, loud: bool) -> bytes:
    """One 20 ms frame: a square wave well above the fakes' VAD level, or near silence."""
    samples = fmt.sample_rate_hz * FRAME_MS // 1000
    if fmt.encoding == "pcmu":
        # µ-law bytes: 0x1f / 0x9f are loud (±~8000), 0xff is digital silence.
        return (b"\x1f" * 10 + b"\x9f" * 10) * (samples // 20) if loud else b"\xff" * samples
    level = 6000 if loud else 0
    period = level.to_bytes(2, "little", signed=True) * 20
    period += (-level).to_bytes(2, "little", signed=True) * 20
    return (period * (samples // 40 + 1))[: samples * 2]


@dataclass
class CallStats:
    """What one call saw: agent audio received, and caller-speech-end → first-audio spans."""

    audio_bytes: int = 0
    speech_ended_at: float | None = None
    turn_ms: list[float] = field(default_factory=list)
    failed: str | None = None


async def consume(session: ProviderSession, stats: CallStats) -> None:
    async for event in session:
        if isinstance(event, AgentAudio):
            stats.audio_bytes += len(event.audio)
            if stats.speech_ended_at is not None:
                stats.turn_ms.append((time.perf_counter() - stats.speech_ended_at) * 1000)
                stats.speech_ended_at = None
        elif isinstance(event, ProviderFailed):
            stats.failed = event.code
            print(f"call failed: {event.code}", file=sys.stderr, flush=True)


@contextmanager
def fake_process(provider: str) -> Iterator[tuple[int, int]]:
    """The fake provider in its own process: (pid, port)."""
    module, banner = FAKES[provider]
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-m", module, "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            line = child.stdout.readline()
            if line.startswith(banner) or not line:
                break
        yield child.pid, port
    finally:
        child.terminate()
        child.wait(timeout=10)


def make_provider(
    provider: str, port: int, batch_ms: int | None
) -> OpenAIRealtimeProvider | GeminiLiveProvider:
    clock, batch = SystemClock(), DEFAULT_BATCH_MS if batch_ms is None else batch_ms
    if provider == "openai":
        url = f"ws://127.0.0.1:{port}/v1/realtime"
        return OpenAIRealtimeProvider("sk-test", url, clock=clock, audio_batch_ms=batch)
    url = f"ws://127.0.0.1:{port}{GEMINI_PATH}"
    return GeminiLiveProvider("test-key", url, clock=clock, audio_batch_ms=batch)


async def run(args: argparse.Namespace, port: int, fake_pid: int) -> dict[str, float]:
    fmt = FORMATS[args.format] if args.provider == "openai" else PCM16_16K
    provider = make_provider(args.provider, port, args.batch_ms)
    assistant = AssistantSpec(name="profile", provider=args.provider)
    sessions: list[ProviderSession] = []
    for n in range(args.calls):
        context = SessionContext(f"profile-{n}", input_audio=fmt, output_audio=fmt)
        if args.provider == "gemini":
            context = SessionContext(f"profile-{n}")
        sessions.append(await provider.connect(assistant, context))
    stats = [CallStats() for _ in sessions]
    readers = [asyncio.create_task(consume(s, c)) for s, c in zip(sessions, stats, strict=True)]
    loud, quiet = frame_audio(fmt, True), frame_audio(fmt, False)
    cycle = (SPEECH_MS + SILENCE_MS) // FRAME_MS
    frames_total = int((WARMUP_S + args.duration_s) * 1000 / FRAME_MS)
    start, measured_from = time.monotonic(), int(WARMUP_S * 1000 / FRAME_MS)
    cpu0 = fake_cpu0 = 0.0
    sent = 0
    for tick in range(frames_total):
        if tick == measured_from:
            cpu0, fake_cpu0 = own_cpu(), cpu_seconds(fake_pid)
            for call in stats:
                call.audio_bytes, call.turn_ms = 0, []
        speaking = tick % cycle < SPEECH_MS // FRAME_MS
        frame = loud if speaking else quiet
        for session, call in zip(sessions, stats, strict=True):
            await session.send_audio(frame)
            if tick % cycle == SPEECH_MS // FRAME_MS - 1:
                call.speech_ended_at = time.perf_counter()
        sent += len(sessions) if tick >= measured_from else 0
        delay = start + (tick + 1) * FRAME_MS / 1000 - time.monotonic()
        await asyncio.sleep(max(0.0, delay))
    cpu, fake_cpu = own_cpu() - cpu0, cpu_seconds(fake_pid) - fake_cpu0
    for session in sessions:
        await session.aclose()
    await asyncio.gather(*readers, return_exceptions=True)
    out_bytes_per_frame = fmt.bytes_per_ms * FRAME_MS if args.provider == "openai" else 960
    turns = sorted(ms for call in stats for ms in call.turn_ms)
    return {
        "us_per_frame": cpu / sent * 1e6,
        "fake_us_per_frame": fake_cpu / sent * 1e6,
        "frames_in": sent,
        "frames_out": sum(c.audio_bytes for c in stats) // out_bytes_per_frame,
        "turn_p50_ms": statistics.median(turns) if turns else float("nan"),
        "turn_p90_ms": turns[int(len(turns) * 0.9)] if turns else float("nan"),
        "failures": sum(1 for c in stats if c.failed),
    }


def own_cpu() -> float:
    times = os.times()
    return times.user + times.system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--provider", choices=tuple(FAKES), default="openai")
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--duration-s", type=float, default=15.0)
    parser.add_argument("--format", choices=tuple(FORMATS), default="pcmu", help="OpenAI only")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--batch-ms", type=int, help="caller audio per message (default: the provider's own)"
    )
    args = parser.parse_args()
    for n in range(args.repeat):
        with fake_process(args.provider) as (fake_pid, port):
            r = asyncio.run(run(args, port, fake_pid))
        print(
            f"run {n + 1}: {args.provider} {args.calls} calls: leg {r['us_per_frame']:.1f} µs "
            f"CPU per call per 20 ms (fake {r['fake_us_per_frame']:.1f} µs); frames in "
            f"{r['frames_in']}, out {r['frames_out']}; speech end → first audio p50 "
            f"{r['turn_p50_ms']:.0f} ms, p90 {r['turn_p90_ms']:.0f} ms; failures {r['failures']}",
            flush=True,
        )


if __name__ == "__main__":
    main()
