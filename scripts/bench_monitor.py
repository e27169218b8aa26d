#!/usr/bin/env python3
"""Measure what live monitoring adds to a call's frame delay, and recording to CPU, in process.

Runs ``--calls`` Conversations (the real engine, phone plan: µ-law 8 kHz both ways on a
provider that speaks it, so the tap does the costliest conversion, µ-law 8 kHz → PCM16 24 kHz)
on one event loop. Every 20 ms each call sends a caller frame through the port and its provider
emits a 20 ms agent frame. The frame delay is, inbound, from ``Conversation.receive`` to the
provider's ``send_audio``; outbound, from the provider emitting to the client's
``deliver_audio`` (so it includes the loop time the tap's tasks take). It runs twice: nobody
listening, then ``--monitors`` supervisors per call draining their queues, and prints p50/p99
and the difference. Then it runs the calls unmonitored twice more, plain and recorded (dual WAV
into a temporary directory), and prints the process CPU time of each. Nothing leaves the
process.

    python scripts/bench_monitor.py --calls 50 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.sessions.conversation import Conversation, ConversationLimits
from gateway.sessions.monitor import MonitorListener
from gateway.sessions.plan import SessionPlan
from gateway.sessions.port import CallerAudio
from gateway.sessions.protocol import ServerMessage
from gateway.sessions.recording import SessionRecorder
from gateway.sessions.transcripts import TurnRecord
from kinds.clock import SystemClock
from providers.base import ProviderSession
from providers.events import AgentAudio, ProviderEvent, ToolCall
from tests.fakes.phone_plan import phone_capabilities, phone_plan, phone_traits

FRAME_S = 0.02
ULAW_20MS = bytes(range(0, 256, 2)) + bytes(range(1, 64, 2))  # 160 bytes of varied µ-law
CAPS = phone_capabilities()
TRAITS = phone_traits()


class _Provider(ProviderSession):
    """Takes audio, stamping the inbound delay; emits agent frames stamped at emission."""

    capabilities = CAPS

    def __init__(self, inbound_ms: list[float]) -> None:
        self._queue: asyncio.Queue[ProviderEvent | None] = asyncio.Queue()
        self._inbound_ms = inbound_ms
        self.sent_at = 0.0

    async def send_audio(self, audio: bytes) -> None:
        self._inbound_ms.append((time.perf_counter() - self.sent_at) * 1000)

    async def send_text(self, text: str) -> None:
        del text

    async def interrupt(self, played_ms: int | None = None) -> None:
        del played_ms

    async def send_tool_result(self, call_id: str, result: dict[str, Any]) -> None:
        del call_id, result

    async def aclose(self) -> None:
        self._queue.put_nowait(None)

    def emit(self) -> None:
        self._queue.put_nowait(AgentAudio(audio=ULAW_20MS, item_id=f"{time.perf_counter()!r}"))

    async def _events(self) -> AsyncIterator[ProviderEvent]:
        while (event := await self._queue.get()) is not None:
            yield event

    def __aiter__(self) -> AsyncIterator[ProviderEvent]:
        return self._events()


class _Client:
    traits = TRAITS

    def __init__(self, outbound_ms: list[float]) -> None:
        self._outbound_ms = outbound_ms

    def session_planned(self, plan: SessionPlan) -> None:
        del plan

    async def deliver(self, message: ServerMessage) -> None:
        del message

    async def deliver_audio(self, audio: bytes, item_id: str) -> None:
        self._outbound_ms.append((time.perf_counter() - float(item_id)) * 1000)

    async def caller_speech_started(self) -> bool:
        return True

    async def answer_tool(self, call: ToolCall) -> dict[str, Any]:
        return {}


class _Turns:
    def add(self, first_seq: int, records: tuple[TurnRecord, ...], completed: bool) -> None:
        del first_seq, records, completed

    def amend(self, seq: int, text: str) -> None:
        del seq, text


async def _drain(listener: MonitorListener) -> None:
    while await listener.next() is not None:
        pass


async def _call(
    plan: SessionPlan,
    seconds: float,
    monitors: int,
    delays: tuple[list[float], list[float]],
    phase_s: float,
    record_to: Path | None = None,
) -> int:
    provider = _Provider(delays[0])
    conversation = Conversation(
        provider=provider,
        client=_Client(delays[1]),
        plan=plan,
        clock=SystemClock(),
        limits=ConversationLimits(idle_timeout_s=3600),
        turns=_Turns(),
    )
    listeners = [MonitorListener() for _ in range(monitors)]
    recorder = SessionRecorder(record_to, plan, "dual") if record_to else None
    async with asyncio.TaskGroup() as group:
        run = group.create_task(conversation.run())
        if recorder is not None:
            conversation.tap.recorder = recorder
            writer = group.create_task(recorder.run())
        for listener in listeners:
            conversation.tap.attach(listener)
            group.create_task(_drain(listener))
        start = time.perf_counter() + phase_s  # real calls are not in step with each other
        for frame in range(int(seconds / FRAME_S)):
            await asyncio.sleep(max(0.0, start + frame * FRAME_S - time.perf_counter()))
            provider.emit()
            provider.sent_at = time.perf_counter()
            await conversation.receive(CallerAudio(ULAW_20MS))
        conversation.end("done")
        await run
        if recorder is not None:
            recorder.finish()
            await writer
    return sum(listener.dropped for listener in listeners)


def _p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000)[int(q * 1000) - 1] if len(values) > 1 else 0.0


async def _round(
    calls: int, seconds: float, monitors: int, record_dir: Path | None = None
) -> tuple[list[float], int]:
    plan = phone_plan("bench")
    inbound: list[float] = []
    outbound: list[float] = []
    dropped = await asyncio.gather(
        *(
            _call(
                plan,
                seconds,
                monitors,
                (inbound, outbound),
                FRAME_S * n / calls,
                record_dir / f"{n}.wav" if record_dir else None,
            )
            for n in range(calls)
        )
    )
    return inbound + outbound, sum(dropped)


def _cpu_s(calls: int, seconds: float, record_dir: Path | None) -> float:
    started = time.process_time()
    asyncio.run(_round(calls, seconds, 0, record_dir))
    return time.process_time() - started


def _recording_cost(calls: int, seconds: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        plain = _cpu_s(calls, seconds, None)
        recorded = _cpu_s(calls, seconds, Path(tmp))
        written = sum(f.stat().st_size for f in Path(tmp).glob("*.wav"))
    per_call = (recorded - plain) / (calls * seconds) * 100
    print(
        f"recording   calls={calls} cpu plain={plain:.2f} s recorded={recorded:.2f} s: "
        f"+{(recorded - plain) / plain * 100:.1f} % of this engine-only process, "
        f"{per_call:.3f} % of one core per recorded call; wrote {written / 1e6:.1f} MB"
    )


def _delay_rounds(args: argparse.Namespace) -> None:
    """Unmonitored and monitored rounds in turn, ``--repeats`` times: the machine's load
    drifts, so each pair is measured close together and the median of the pairs is the
    verdict."""
    added: list[float] = []
    dropped = 0
    cpu_s = [0.0, 0.0]
    for repeat in range(args.repeats):
        started = time.process_time()
        base, _ = asyncio.run(_round(args.calls, args.seconds, 0))
        cpu_s[0] += time.process_time() - started
        started = time.process_time()
        watched, lost = asyncio.run(_round(args.calls, args.seconds, args.monitors))
        cpu_s[1] += time.process_time() - started
        dropped += lost
        for name, values in (("unmonitored", base), ("monitored", watched)):
            print(
                f"round {repeat + 1} {name:11s} calls={args.calls} frames={len(values)} "
                f"p50={_p(values, 0.5):.3f} ms p99={_p(values, 0.99):.3f} ms "
                f"max={max(values):.3f} ms"
            )
        added.append(_p(watched, 0.99) - _p(base, 0.99))
    median = statistics.median(added)
    verdict = "PASS" if median <= 1.0 else "FAIL"
    pairs = " ".join(f"{a:+.3f}" for a in added)
    print(f"monitoring adds p99 {median:+.3f} ms (median of {pairs}) to frame delay "
          f"(target ≤ 1 ms): {verdict}; supervisor frames dropped: {dropped}")  # fmt: skip
    per_call = (cpu_s[1] - cpu_s[0]) / (args.repeats * args.calls * args.seconds) * 100
    print(f"monitoring cpu unmonitored={cpu_s[0]:.2f} s monitored={cpu_s[1]:.2f} s: "
          f"{per_call:.3f} % of one core per monitored call")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--monitors", type=int, default=1, help="supervisors per call")
    parser.add_argument("--repeats", type=int, default=3, help="pairs of delay rounds")
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} cpus, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    _delay_rounds(args)
    _recording_cost(args.calls, args.seconds)
    load = os.getloadavg()
    print(f"machine after: load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
