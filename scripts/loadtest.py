#!/usr/bin/env python3
"""Many concurrent simulated calls against a loopback gateway: capacity and the knee.

    # start the gateway itself (pinned to core 0, temp SQLite, local provider, TTS off):
    .venv/bin/python scripts/loadtest.py --spawn --calls 100 --duration-s 30
    .venv/bin/python scripts/loadtest.py --spawn --ramp --calls 1000 --duration-s 20
    .venv/bin/python scripts/loadtest.py --spawn --provider openai-fake --ramp
    .venv/bin/python scripts/loadtest.py --spawn --provider gemini-fake --ramp
    # as another carrier (its webhooks signed its way, its media framing):
    .venv/bin/python scripts/loadtest.py --spawn --ramp --carrier vonage --duration-s 40
    # or a running gateway (CPU figures need its pid):
    .venv/bin/python scripts/loadtest.py --gateway http://127.0.0.1:8080 \\
        --auth-token T --to +15550002222 --gateway-pid 1234 --calls 50

Each call is what scripts/simulate_call.py places (the same library), streaming speech then
silence in a loop, as the carrier ``--carrier`` names (Twilio by default; Telnyx's JSON frames,
Vonage's binary L16 frames, all pre-encoded once per run), every call's frames sent from one
shared ticker (scripts/twilio_sim/ticker.py). Prints calls held, gateway CPU per call, frame
delay p50/p99 per direction and event-loop lag (from /metrics), lost and late frames,
failures, speech onset → clear, the fake provider's CPU, and this generator's own CPU and tick
lag (p50/p99/max), with how long each process waited for its core when the machine is busy.
``--ramp`` steps N up by 50 and stops at the first step that misses the targets (p99 frame
delay and loop lag ≤ 20 ms, onset → clear p50 ≤ 100 ms and max ≤ 170 ms, 0 lost frames, 0
failures); a miss while the generator's tick lag p99 is over 10 ms (or its core saturated) is
"generator-limited", not the gateway's. Exit status: 0 when the first step met the targets, 1
when the gateway missed it, 3 when the generator could not deliver it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.twilio_sim import metrics  # noqa: E402
from scripts.twilio_sim.audio import SPEECH_CLIPS, speech_clip  # noqa: E402
from scripts.twilio_sim.call import CallConfig  # noqa: E402
from scripts.twilio_sim.carriers import CARRIERS  # noqa: E402
from scripts.twilio_sim.gateway_proc import PROVIDERS, spawned_gateway  # noqa: E402
from scripts.twilio_sim.load import MIN_WINDOW_S, LoadTarget, StepReport, run_step  # noqa: E402
from scripts.twilio_sim.loopback import is_loopback_url  # noqa: E402
from scripts.twilio_sim.media_session import InboundPlan  # noqa: E402

MAX_CALLS = 1000
MAX_DURATION_S = 300.0
RAMP_STEP = 50
IDLE_TIMEOUT_S = 20.0  # for the previous step's calls to end before the next step starts
GATEWAY_CORE = 0
GEN0_THRESHOLD = (
    10_000  # as the gateway's (gateway/gc_tuning.py): fewer collections that find nothing
)


def ramp_steps(max_calls: int, step: int = RAMP_STEP) -> list[int]:
    """50, 100, 150, … up to ``max_calls`` (which ends the list even off the grid)."""
    steps = list(range(step, max_calls + 1, step))
    return steps if steps and steps[-1] == max_calls else [*steps, max_calls]


async def _wait_idle(http: aiohttp.ClientSession, url: str) -> None:
    """Until ``kura_calls_active`` is 0 (or unknown), at most ``IDLE_TIMEOUT_S``."""
    for _ in range(int(IDLE_TIMEOUT_S / 0.5)):
        samples = await metrics.scrape(http, url)
        active = metrics.value(samples or {}, "kura_calls_active")
        if not active:
            return
        await asyncio.sleep(0.5)


def format_step(report: StepReport) -> str:
    """One step as a few readable lines."""
    d = report.as_dict()
    lines = [
        f"N={d['calls']}: held {d['held']}/{d['calls']}, failures {d['failures'] or 0}, "
        f"gateway CPU {d['gateway_cpu_pct_per_call']} %/call ({d['gateway_cpu_pct']} % of a core "
        f"over {d['cpu_window_s']} s{' (whole step)' if d['cpu_window_is_whole_step'] else ''})",
    ]
    waits = (d["gateway_waited_for_cpu_pct"], d["generator_waited_for_cpu_pct"])
    if any(w is not None and w >= 1 for w in waits):  # a busy machine: say so beside the figures
        lines.append(
            f"  waited for a CPU (other processes on the core): gateway {waits[0]} %, "
            f"generator {waits[1]} % of the time"
        )
    for direction, fig in d["frame_delay_ms"].items():
        lines.append(
            f"  frame delay {direction:<8} p50 {fig['p50']} ms  p99 {fig['p99']} ms  "
            f"({int(fig['frames'])} frames)"
        )
    if not d["frame_delay_ms"]:
        lines.append("  frame delay: /metrics not available")
    if lag := d["event_loop_lag_ms"]:
        lines.append(f"  event-loop lag  p50 {lag['p50']} ms  p99 {lag['p99']} ms")
    if gc := d["gc_pauses"]:
        lines.append(
            f"  gc pauses {int(gc['count'])}, {gc['total_ms']} ms in all, the worst "
            f"≤ {gc['worst_at_most_ms']} ms"
        )
    lines.append(
        f"  caller frames sent {d['frames_sent']}, counted by gateway {d['frames_counted']}, "
        f"lost {d['lost_frames']}, late {d['late_frames']}; clears {d['clears']}"
    )
    if (clear := d["speech_onset_to_clear_ms"])["count"]:
        lines.append(
            f"  speech onset → clear  p50 {clear['p50']} ms  p99 {clear['p99']} ms  "
            f"max {clear['max']} ms  "
            f"({clear['count']} barge-ins)"
        )
    lines.append(
        f"  webhook p99 {d['webhook_p99_ms']} ms, first agent audio p50 "
        f"{d['first_agent_audio_p50_ms']} ms"
    )
    lag = d["generator_lag_ms"]
    lines.append(
        f"  generator CPU {d['generator_cpu_pct']} % of a core, tick lag p50 {lag.get('p50')} ms"
        f"  p99 {lag.get('p99')} ms  max {lag.get('max')} ms ({d['generator_late_sends']} late "
        "sends)"
        + (
            f"; fake provider CPU {d['fake_provider_cpu_pct']} %"
            if d["fake_provider_cpu_pct"] is not None
            else ""
        )
    )
    if d["verdict"] == "meets targets" and d["generator_misses"]:
        lines.append(
            f"  meets targets, though the generator fell short ({'; '.join(d['generator_misses'])})"
            ": a figure to confirm on a quieter machine"
        )
    elif d["verdict"] == "meets targets":
        lines.append("  meets targets")
    elif d["verdict"] == "generator-limited":
        lines.append(
            f"  generator-limited ({'; '.join(d['generator_misses'])}): the load was not "
            f"delivered as asked, so the gateway is not judged (figures that missed: "
            f"{'; '.join(d['misses'])})"
        )
    else:
        lines.append(f"  misses: {'; '.join(d['misses'])}")
    return "\n".join(lines)


async def run(args: argparse.Namespace, target: LoadTarget) -> dict[str, Any]:
    clip = speech_clip(args.clip)
    plan = InboundPlan(clip, duration_s=args.duration_s, loop_gap_s=args.gap_s)
    _ = plan.loop  # every frame of the run encoded now, before the clock matters
    _quiet_gc()
    steps = ramp_steps(args.calls) if args.ramp else [args.calls]
    connector = aiohttp.TCPConnector(limit=0)  # each media socket holds a connection
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=15)
    reports: list[StepReport] = []
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        for calls in steps:
            await _wait_idle(http, target.config.gateway_url)
            report = await run_step(http, target, plan, calls, args.start_rate)
            reports.append(report)
            if not args.json:
                print(format_step(report), flush=True)
            if args.ramp and report.misses():
                break
    passing = [r.calls for r in reports if not r.misses()]
    knee = max(passing) if passing and args.ramp else None
    last = reports[-1]
    stopped = None if not last.misses() else last.verdict
    return {"steps": [r.as_dict() for r in reports], "largest_passing_calls": knee,
            "stopped_at": last.calls if stopped else None, "stopped_by": stopped}  # fmt: skip


def _quiet_gc() -> None:
    """A full collection scanning every call's sockets would stall the ticker (and be counted
    as generator lag): what start-up made is frozen out of sight, as the gateway does."""
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)


def _pin_generator() -> tuple[int | str, set[int] | None]:
    """This process on one core other than the gateway's (calls per core stay comparable on any
    machine); the fake provider on the cores left, if any (else it shares the generator's)."""
    cores = os.sched_getaffinity(0)
    if len(cores) < 2:
        return "shared", None
    generator_core = min(cores - {GATEWAY_CORE})
    os.sched_setaffinity(0, {generator_core})
    return generator_core, (cores - {GATEWAY_CORE, generator_core}) or None


@contextlib.contextmanager
def _target(args: argparse.Namespace) -> Iterator[LoadTarget]:
    if not args.spawn:
        config = CallConfig(
            args.gateway, args.auth_token, "+15553000000", args.to, args.public_url,
            carrier=args.carrier,
        )  # fmt: skip
        yield LoadTarget(config, args.gateway_pid)
        return
    generator_core, fake_cores = _pin_generator()
    keep_logs = Path(args.keep_logs) if args.keep_logs else None
    with spawned_gateway(
        args.provider, GATEWAY_CORE, keep_logs, args.carrier, recording=args.record,
        fake_cores=fake_cores,
    ) as gw:  # fmt: skip
        config = CallConfig(gw.url, gw.auth_token, "+15553000000", gw.number, carrier=args.carrier)
        print(
            f"gateway pid {gw.pid} on core {GATEWAY_CORE}, {gw.url}, provider {args.provider},"
            f" carrier {args.carrier}; log {gw.log_path}; generator on core {generator_core}"
            + (f", fake provider on cores {sorted(fake_cores)}" if fake_cores else ""),
            file=sys.stderr,
        )
        yield LoadTarget(config, gw.pid, gw.fake_pid)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--spawn", action="store_true", help="start kura serve pinned to core 0")
    p.add_argument(
        "--provider",
        choices=PROVIDERS,
        default="local",
        help="with --spawn: the local provider, or a fake in a process of its own: OpenAI "
        "(a call passes µ-law straight through) or Gemini (16 kHz in, 24 kHz out: resampled)",
    )
    p.add_argument(
        "--carrier",
        choices=tuple(CARRIERS),
        default="twilio",
        help="act as this carrier: its signed webhooks and its media framing",
    )
    p.add_argument("--keep-logs", help="with --spawn: copy the children's logs to this directory")
    p.add_argument(
        "--record",
        choices=("mono", "dual"),
        help="with --spawn: the assistant records every call (compare gateway CPU per call)",
    )
    p.add_argument("--gateway", help="a running gateway's base URL (loopback only)")
    p.add_argument("--public-url", help="its KURA_PUBLIC_URL (default: --gateway)")
    p.add_argument(
        "--auth-token",
        help="what to sign with: its KURA_TWILIO_AUTH_TOKEN, the Telnyx signing seed (base64) "
        "or its KURA_VONAGE_SIGNATURE_SECRET, by --carrier",
    )
    p.add_argument("--to", help="a number routed to an assistant, E.164")
    p.add_argument("--gateway-pid", type=int, help="its pid, for CPU figures")
    p.add_argument("--calls", type=int, default=50, help=f"concurrent calls (max {MAX_CALLS})")
    p.add_argument(
        "--duration-s", type=float, default=30.0, help=f"per call (max {MAX_DURATION_S:g})"
    )
    p.add_argument("--ramp", action="store_true", help="step N up by 50 to --calls; stop at a miss")
    p.add_argument("--start-rate", type=float, default=25.0, help="new calls per second")
    p.add_argument("--clip", choices=SPEECH_CLIPS, default="speech_a_8k.wav", help="caller speech")
    p.add_argument("--gap-s", type=float, default=3.0, help="silence after each loop of speech")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def check(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Bounds and the loopback-only rule; exits with a usage error (status 2) on a violation."""
    if not args.spawn:
        if not (args.gateway and args.auth_token and args.to):
            p.error("give --spawn, or --gateway, --auth-token and --to")
        if not is_loopback_url(args.gateway):
            p.error("--gateway must be a loopback address (127.0.0.1, ::1 or localhost)")
        if args.public_url and not args.public_url.startswith(("http://", "https://")):
            p.error("--public-url must be an http(s) URL")
    if not 1 <= args.calls <= MAX_CALLS:
        p.error(f"--calls must be in [1, {MAX_CALLS}]")
    if not 0 < args.duration_s <= MAX_DURATION_S:
        p.error(f"--duration-s must be in (0, {MAX_DURATION_S:g}]")
    if not 0 < args.start_rate <= 1000 or not 0 <= args.gap_s <= 60:
        p.error("--start-rate must be in (0, 1000], --gap-s in [0, 60]")
    ramp_s = args.calls / args.start_rate
    if args.duration_s < ramp_s + MIN_WINDOW_S:
        # Otherwise the first calls hang up before the last ones dial: N is never concurrent.
        p.error(
            f"--duration-s must outlast dialling: {args.calls} calls at {args.start_rate:g}/s "
            f"take {ramp_s:.0f} s to start; give at least {ramp_s + MIN_WINDOW_S:.0f}"
        )


def _fast_loop() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where installed: the generator's own cost per call then stays well below the
    gateway's, so its core is not what limits a step."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    check(p, args)
    with _target(args) as target, asyncio.Runner(loop_factory=_fast_loop()) as runner:
        outcome = runner.run(run(args, target))
    if args.json:
        print(json.dumps(outcome))
    elif args.ramp:
        knee = outcome["largest_passing_calls"]
        print(
            "ramp: largest N meeting the targets (p99 frame delay and event-loop lag ≤ 20 ms, "
            "speech onset → clear p50 ≤ 100 ms and max ≤ 170 ms, 0 lost frames, 0 failures): "
            f"{knee if knee is not None else 'none'}" + _stop_note(outcome)
        )
    # A ramp is expected to end on a miss; it succeeds when its first step met the targets.
    # 3: the generator could not deliver even the first step, so nothing was judged.
    first = outcome["steps"][0]["verdict"]
    return 0 if first == "meets targets" else 3 if first == "generator-limited" else 1


def _stop_note(outcome: dict[str, Any]) -> str:
    if outcome["stopped_by"] == "generator-limited":
        return (
            f"; stopped at {outcome['stopped_at']}: generator-limited (the load generator, not "
            "the gateway, fell behind: the gateway's limit is higher than this says)"
        )
    if outcome["stopped_by"]:
        return f"; the gateway missed at {outcome['stopped_at']}"
    return ""


if __name__ == "__main__":
    sys.exit(main())
