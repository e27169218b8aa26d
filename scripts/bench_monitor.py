#!/usr/bin/env python3
"""Measure what live monitoring adds to a call's frame delay, in process.

Runs ``--calls`` Conversations (the real engine, phone plan: µ-law 8 kHz both ways on a
provider that speaks it, so the tap does the costliest conversion, µ-law 8 kHz → PCM16 24 kHz)
on one event loop. Every 20 ms each call sends a caller frame through the port and its provider
emits a 20 ms agent frame. The frame delay is, inbound, from ``Conversation.receive`` to the
provider's ``send_audio``; outbound, from the provider emitting to the client's
``deliver_audio`` (so it includes the loop time the tap's tasks take). It runs twice: nobody
listening, then ``--monitors`` supervisors per call draining their queues, and prints p50/p99
and the difference. Nothing leaves the process.

    python scripts/bench_monitor.py --calls 50 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.sessions.conversation import Conversation, ConversationLimits
from gateway.sessions.monitor import MonitorListener
from gateway.sessions.plan import ClientTraits, SessionPlan, plan_session
from gateway.sessions.port import CallerAudio
from gateway.sessions.protocol import ServerMessage
from gateway.sessions.transcripts import TurnRecord
from kinds.audio import PCMU_8K
from kinds.clock import SystemClock
from providers.base import ProviderSession
from providers.capabilities import ProviderCapabilities
from providers.events import AgentAudio, ProviderEvent, ToolCall
from providers.spec import AssistantSpec

FRAME_S = 0.02
ULAW_20MS = bytes(range(0, 256, 2)) + bytes(range(1, 64, 2))  # 160 bytes of varied µ-law
CAPS = ProviderCapabilities(
    input_audio=PCMU_8K,
    output_audio=PCMU_8K,
    server_vad=True,
    truncation=True,
    tools=False,
    text_mode=False,
    input_transcription=False,
)
TRAITS = ClientTraits(audio=PCMU_8K, converts_audio=True, detects_turns=True)


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
    async with asyncio.TaskGroup() as group:
        run = group.create_task(conversation.run())
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
    return sum(listener.dropped for listener in listeners)


def _p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000)[int(q * 1000) - 1] if len(values) > 1 else 0.0


async def _round(calls: int, seconds: float, monitors: int) -> tuple[list[float], int]:
    plan = plan_session(TRAITS, CAPS, AssistantSpec(name="bench", provider="bench"), "voice")
    inbound: list[float] = []
    outbound: list[float] = []
    dropped = await asyncio.gather(
        *(
            _call(plan, seconds, monitors, (inbound, outbound), FRAME_S * n / calls)
            for n in range(calls)
        )
    )
    return inbound + outbound, sum(dropped)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--monitors", type=int, default=1, help="supervisors per call")
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} cpus, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    base, _ = asyncio.run(_round(args.calls, args.seconds, 0))
    watched, dropped = asyncio.run(_round(args.calls, args.seconds, args.monitors))
    for name, values in (("unmonitored", base), ("monitored", watched)):
        print(
            f"{name:11s} calls={args.calls} frames={len(values)} "
            f"p50={_p(values, 0.5):.3f} ms p99={_p(values, 0.99):.3f} ms max={max(values):.3f} ms"
        )
    added = _p(watched, 0.99) - _p(base, 0.99)
    verdict = "PASS" if added <= 1.0 else "FAIL"
    print(f"monitoring adds p99 {added:+.3f} ms to frame delay (target ≤ 1 ms): {verdict}; "
          f"supervisor frames dropped: {dropped}")  # fmt: skip


if __name__ == "__main__":
    main()
