"""Many simulated calls at once: one load step and its report.

Calls start staggered (``start_rate_per_s``) so the gateway sees a ramp of webhooks, not one
burst, then stream speech and silence in a loop for the duration. CPU is measured over the
steady window, from when the last call is streaming to when the first one ends, so call setup
and teardown do not blur the per-call cost; frame figures come from ``/metrics`` deltas over
the whole step. Every call's frames go out from one shared ``FrameTicker``, whose lateness is the
generator's own lag: when that (or the generator's CPU) is over its budget, a step that missed
is "generator-limited", not a gateway failure, since the load it asked for was not delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from . import metrics
from .call import CallConfig, CallResult, run_call
from .carriers import CARRIERS
from .gateway_proc import cpu_seconds, own_cpu_seconds, run_queue_wait_s
from .media_session import InboundPlan, onset_to_clear_ms
from .ticker import FrameTicker

TARGET_P99_S = 0.020
TARGET_CLEAR_P50_MS, TARGET_CLEAR_MAX_MS = 100.0, 170.0  # caller speech onset → clear
DIRECTIONS = ("inbound", "outbound")
SETTLE_S = 1.0  # for the gateway to count the last frames before the closing scrape
MIN_WINDOW_S = 2.0  # a shorter steady window says little; use the whole step instead
GENERATOR_LAG_P99_MS = 10.0  # the generator's own tick lateness it may have and still judge
GENERATOR_CPU_MAX_PCT = 90.0  # past this its core is saturated: its lag will follow
BUSY_WAIT_PCT = 5.0  # runnable but not running this share of the time: other processes' core


@dataclass(frozen=True)
class LoadTarget:
    """Where the load goes: the gateway, how to sign for it, and its pid (for CPU) if known."""

    config: CallConfig
    gateway_pid: int | None = None
    helper_pid: int | None = None  # the fake provider, when we started it


@dataclass
class CpuWindow:
    """CPU seconds of the gateway, this process and the helper over a wall-clock window."""

    wall_s: float = 0.0
    gateway_s: float | None = None
    own_s: float = 0.0
    helper_s: float | None = None
    whole_step: bool = False
    # Runnable but waiting for a CPU (other processes on its core): what a busy machine costs.
    gateway_wait_s: float | None = None
    own_wait_s: float | None = None


@dataclass
class StepReport:
    """The outcome of one load step with ``calls`` concurrent calls."""

    calls: int
    duration_s: float
    held: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    frames_sent: int = 0
    frames_counted: int | None = None
    late_frames: int | None = None
    delay_ms: dict[str, dict[str, float | None]] = field(default_factory=dict)
    cpu: CpuWindow = field(default_factory=CpuWindow)
    webhook_p99_ms: float | None = None
    first_audio_p50_ms: float | None = None
    send_lag_max_ms: float = 0.0
    late_sends: int = 0
    clears: int = 0
    onset_to_clear_ms: list[float] = field(default_factory=list)
    loop_lag_ms: dict[str, float | None] = field(default_factory=dict)
    gc_pauses: dict[str, float | None] = field(default_factory=dict)
    generator_lag_ms: dict[str, float | None] = field(default_factory=dict)
    backlogged: int = 0

    @property
    def lost_frames(self) -> int | None:
        return None if self.frames_counted is None else self.frames_sent - self.frames_counted

    def misses(self) -> list[str]:
        """Which targets this step missed (empty: it met them all)."""
        out = [f"{n} x {kind}" for kind, n in self.failures.items()]
        if self.frames_counted is None:
            out.append("no frame counts from /metrics")
        elif self.lost_frames:
            out.append(f"{self.lost_frames} lost frames")
        for direction in DIRECTIONS:
            p99 = self.delay_ms.get(direction, {}).get("p99")
            if p99 is not None and p99 > TARGET_P99_S * 1000:
                out.append(f"{direction} p99 {p99:.1f} ms")
        # A frame also waits for the loop before it is read: the honest delay includes this.
        lag = self.loop_lag_ms.get("p99")
        if lag is not None and lag > TARGET_P99_S * 1000:
            out.append(f"event-loop lag p99 {lag:.1f} ms")
        clear = self.clear_figures()
        if clear["p50"] is not None and clear["p50"] > TARGET_CLEAR_P50_MS:
            out.append(f"speech onset → clear p50 {clear['p50']} ms")
        if clear["max"] is not None and clear["max"] > TARGET_CLEAR_MAX_MS:
            out.append(f"speech onset → clear max {clear['max']} ms")
        if self.backlogged:
            out.append(f"{self.backlogged} frames sent with 64 KiB left unread by the gateway")
        return out

    def generator_misses(self) -> list[str]:
        """Where the generator itself fell short: late ticks or a saturated core. (Its frames
        never wait for the gateway to read them, so a slow gateway does not make it late.)"""
        out, p99 = [], self.generator_lag_ms.get("p99")
        if p99 is not None and p99 > GENERATOR_LAG_P99_MS:
            out.append(f"generator tick lag p99 {p99:.1f} ms > {GENERATOR_LAG_P99_MS:g} ms")
        cpu = _pct(self.cpu.own_s, self.cpu.wall_s)
        if cpu is not None and cpu > GENERATOR_CPU_MAX_PCT:
            out.append(f"generator CPU {cpu:.0f} % of its core")
        wait = _pct(self.cpu.own_wait_s, self.cpu.wall_s)
        if out and wait is not None and wait >= BUSY_WAIT_PCT:
            out.append(f"it waited {wait:.0f} % of the time for its core: the machine is busy")
        return out

    @property
    def verdict(self) -> str:
        """``meets targets``; ``generator-limited`` (a miss, but the generator did not deliver
        the load, so the gateway is not judged); or ``misses targets`` (the gateway's miss)."""
        if not self.misses():
            return "meets targets"
        return "generator-limited" if self.generator_misses() else "misses targets"

    def clear_figures(self) -> dict[str, float | None]:
        """Barge-ins measured: the caller's speech onset (sent) → the gateway's ``clear``
        (received), both on the simulator's clock, so the wire both ways is included."""
        got = sorted(self.onset_to_clear_ms)
        return {
            "count": len(got),
            "p50": round(statistics.median(got), 1) if got else None,
            "p99": round(got[min(len(got) - 1, int(len(got) * 0.99))], 1) if got else None,
            "max": round(got[-1], 1) if got else None,
        }

    def as_dict(self) -> dict[str, Any]:
        c = self.cpu
        per_call = (
            None if c.gateway_s is None else 100 * c.gateway_s / c.wall_s / max(1, self.calls)
        )
        return {
            "calls": self.calls,
            "held": self.held,
            "failures": self.failures,
            "frames_sent": self.frames_sent,
            "frames_counted": self.frames_counted,
            "lost_frames": self.lost_frames,
            "late_frames": self.late_frames,
            "frame_delay_ms": self.delay_ms,
            "event_loop_lag_ms": self.loop_lag_ms,
            "gc_pauses": self.gc_pauses,
            "gateway_cpu_pct_per_call": _round(per_call, 3),
            "gateway_cpu_pct": _round(_pct(c.gateway_s, c.wall_s), 1),
            "generator_cpu_pct": _round(_pct(c.own_s, c.wall_s), 1),
            "fake_provider_cpu_pct": _round(_pct(c.helper_s, c.wall_s), 1),
            "gateway_waited_for_cpu_pct": _round(_pct(c.gateway_wait_s, c.wall_s), 1),
            "generator_waited_for_cpu_pct": _round(_pct(c.own_wait_s, c.wall_s), 1),
            "cpu_window_s": round(c.wall_s, 1),
            "cpu_window_is_whole_step": c.whole_step,
            "webhook_p99_ms": _round(self.webhook_p99_ms, 1),
            "first_agent_audio_p50_ms": _round(self.first_audio_p50_ms, 1),
            "generator_send_lag_max_ms": round(self.send_lag_max_ms, 1),
            "generator_late_sends": self.late_sends,
            "generator_lag_ms": self.generator_lag_ms,
            "generator_misses": self.generator_misses(),
            "clears": self.clears,
            "speech_onset_to_clear_ms": self.clear_figures(),
            "meets_targets": not self.misses(),
            "verdict": self.verdict,
            "misses": self.misses(),
        }


def _pct(cpu_s: float | None, wall_s: float) -> float | None:
    return None if cpu_s is None or wall_s <= 0 else 100 * cpu_s / wall_s


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


@dataclass(frozen=True)
class _Sample:
    at: float
    gateway_s: float | None
    own_s: float
    helper_s: float | None
    gateway_wait_s: float | None
    own_wait_s: float | None


def _cpu_sample(target: LoadTarget) -> _Sample:
    gw, helper = target.gateway_pid, target.helper_pid
    return _Sample(
        time.monotonic(),
        cpu_seconds(gw) if gw else None,
        own_cpu_seconds(),
        cpu_seconds(helper) if helper else None,
        run_queue_wait_s(gw) if gw else None,
        run_queue_wait_s(),
    )


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else b - a


def _window(a: _Sample, b: _Sample, whole: bool) -> CpuWindow:
    return CpuWindow(
        b.at - a.at,
        _diff(a.gateway_s, b.gateway_s),
        b.own_s - a.own_s,
        _diff(a.helper_s, b.helper_s),
        whole,
        _diff(a.gateway_wait_s, b.gateway_wait_s),
        _diff(a.own_wait_s, b.own_wait_s),
    )


async def run_step(
    http: aiohttp.ClientSession,
    target: LoadTarget,
    plan: InboundPlan,
    calls: int,
    start_rate_per_s: float,
) -> StepReport:
    """``calls`` concurrent calls of ``plan``; the report of what the gateway did with them."""
    ticker = FrameTicker(target.config.speed)
    try:
        base = dataclasses.replace(target.config, ticker=ticker)
        report = await _step(http, target, base, plan, calls, start_rate_per_s)
    finally:
        await ticker.close()
    report.generator_lag_ms = ticker.reset_stats().figures()
    return report


async def _step(
    http: aiohttp.ClientSession,
    target: LoadTarget,
    base: CallConfig,
    plan: InboundPlan,
    calls: int,
    start_rate_per_s: float,
) -> StepReport:
    before = await metrics.scrape(http, base.gateway_url)
    new_identity = CARRIERS[base.carrier].new_identity
    results = [
        CallResult(new_identity(f"+1555{3_000_000 + i:07d}", base.to_number)) for i in range(calls)
    ]
    first = _cpu_sample(target)
    steady: list[_Sample] = []
    async with asyncio.TaskGroup() as group:
        started = time.monotonic()
        for i, result in enumerate(results):
            await asyncio.sleep(max(0.0, started + i / start_rate_per_s - time.monotonic()))
            group.create_task(run_call(http, base, plan, result))
        ramp_s = time.monotonic() - started
        # A call still not streaming by then is counted a failure when it ends; the step goes
        # on (on a busy machine one stuck webhook used to abort the whole run with a timeout).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(*(r.streaming.wait() for r in results)), timeout=ramp_s + 30
            )
        steady.append(_cpu_sample(target))
        window_end = started + plan.duration_s / base.speed - 0.5
        await asyncio.sleep(max(0.0, window_end - time.monotonic()))
        steady.append(_cpu_sample(target))
    last = _cpu_sample(target)
    await asyncio.sleep(SETTLE_S)
    after = await metrics.scrape(http, base.gateway_url)
    report = _summarise(results, calls, plan.duration_s, before, after)
    whole = steady[1].at - steady[0].at < MIN_WINDOW_S
    report.cpu = _window(first, last, True) if whole else _window(steady[0], steady[1], False)
    return report


def _summarise(
    results: list[CallResult],
    calls: int,
    duration_s: float,
    before: metrics.Samples | None,
    after: metrics.Samples | None,
) -> StepReport:
    report = StepReport(calls=calls, duration_s=duration_s)
    report.held = sum(r.held for r in results)
    report.failures = dict(Counter(r.failure[:80] for r in results if r.failure))
    sessions = [r.session for r in results if r.session is not None]
    report.frames_sent = sum(s.frames_sent for s in sessions)
    report.send_lag_max_ms = max((s.send_lag_max_ms for s in sessions), default=0.0)
    report.late_sends = sum(s.late_sends for s in sessions)
    report.backlogged = sum(s.backlogged for s in sessions)
    report.clears = sum(len(s.clear_times) for s in sessions)
    report.onset_to_clear_ms = [
        ms for s in sessions for ms in onset_to_clear_ms(s.loop_onsets_at, s.clear_times)
    ]
    webhook_ms = sorted(r.webhook.elapsed_ms for r in results if r.webhook)
    if len(webhook_ms) > 1:
        report.webhook_p99_ms = statistics.quantiles(webhook_ms, n=100, method="inclusive")[98]
    first_audio = [s.first_agent_audio_ms for s in sessions if s.first_agent_audio_ms is not None]
    report.first_audio_p50_ms = statistics.median(first_audio) if first_audio else None
    if before is not None and after is not None:
        _frame_figures(report, metrics.delta(after, before))
    return report


def _frame_figures(report: StepReport, change: metrics.Samples) -> None:
    counted = metrics.value(change, "kura_media_frames_total", direction="inbound")
    report.frames_counted = None if counted is None else int(counted)
    late = metrics.value(change, "kura_media_late_frames_total")
    report.late_frames = None if late is None else int(late)
    lag = metrics.histogram(change, "kura_event_loop_lag_seconds")
    if lag:
        report.loop_lag_ms = {
            q: None if (v := lag.quantile(x)) is None else round(v * 1000, 2)
            for q, x in (("p50", 0.5), ("p99", 0.99))
        }
    pauses = metrics.histogram(change, "kura_gc_pause_seconds")
    if pauses and pauses.count:
        worst = metrics.worst_bound(pauses)
        report.gc_pauses = {
            "count": pauses.count,
            "total_ms": round(pauses.total * 1000, 1),
            "worst_at_most_ms": None if worst is None else round(worst * 1000, 1),
        }
    for direction in DIRECTIONS:
        hist = metrics.histogram(change, "kura_media_frame_delay_seconds", direction=direction)
        p50, p99 = (hist.quantile(0.5), hist.quantile(0.99)) if hist else (None, None)
        report.delay_ms[direction] = {
            "frames": hist.count if hist else 0,
            "p50": None if p50 is None else round(p50 * 1000, 2),
            "p99": None if p99 is None else round(p99 * 1000, 2),
        }
