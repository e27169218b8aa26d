#!/usr/bin/env python3
"""Soak (reliability.md row 16): rounds of concurrent simulated calls for a while; no leaks.

    .venv/bin/python scripts/soak.py                                   # 2 min, 10 calls of 30 s
    .venv/bin/python scripts/soak.py --minutes 30 --calls 20 --call-s 60   # the row's load
    .venv/bin/python scripts/soak.py --provider openai-fake --json

Starts ``kura serve`` (temp SQLite; the local provider or a fake in its own process, as
``scripts/loadtest.py --spawn`` does), then places ``--calls`` concurrent Twilio calls of
``--call-s`` seconds, round after round, until ``--minutes`` have passed. The first round warms
the process up (imports, caches, pools); the baseline is taken after it, with no call up.
After every round, once the gateway reports no active call, it prints the gateway's RSS, open
file descriptors, threads and event-loop tasks, and the round's frame delay and loop lag.

The verdict is the row's pass figure — 0 failed calls, RSS grown ≤ 10 %, file descriptors back
to the baseline ± 5 — plus what else a leak would show: tasks back to the baseline ± 5, one
session row per call placed and none left open. Figures taken on a loaded machine are noisy
(latency most of all); RSS and descriptor counts are not. Exit status 0 when the row passes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.loadtest import _fast_loop, _wait_idle  # noqa: E402
from scripts.twilio_sim.audio import speech_clip  # noqa: E402
from scripts.twilio_sim.call import CallConfig  # noqa: E402
from scripts.twilio_sim.gateway_proc import PROVIDERS, spawned_gateway  # noqa: E402
from scripts.twilio_sim.load import LoadTarget, StepReport, run_step  # noqa: E402
from scripts.twilio_sim.media_session import InboundPlan  # noqa: E402
from scripts.twilio_sim.proc_stats import ProcessSample, sample, session_rows  # noqa: E402

RSS_GROWTH_MAX = 0.10
FD_SLACK = 5
TASK_SLACK = 5
START_RATE_PER_S = 10.0
MAX_MINUTES = 24 * 60
MAX_CALLS = 500
SETTLE_POLL_S = 1.0
SETTLE_MAX_S = 15.0


@dataclass
class Soak:
    """Everything one run saw, round by round."""

    before_traffic: ProcessSample | None = None
    baseline: ProcessSample | None = None
    rounds: list[dict[str, Any]] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)
    calls_placed: int = 0

    def add_round(self, report: StepReport, after: ProcessSample) -> None:
        self.calls_placed += report.calls
        for kind, n in report.failures.items():
            self.failures[kind] = self.failures.get(kind, 0) + n
        d = report.as_dict()
        self.rounds.append(
            {
                "calls": report.calls,
                "held": report.held,
                "failures": report.failures,
                "lost_frames": report.lost_frames,
                "frame_p99_ms": {k: v["p99"] for k, v in d["frame_delay_ms"].items()},
                "loop_lag_p99_ms": d["event_loop_lag_ms"].get("p99"),
                "after": after.as_dict(),
            }
        )


def verdict(soak: Soak, rows_total: int, rows_open: int) -> dict[str, Any]:
    """The row's figures and whether each holds."""
    base, last = soak.baseline, soak.rounds[-1]["after"] if soak.rounds else None
    if base is None or last is None:
        return {"passes": False, "why": "no round after the warm-up"}
    growth = (last["rss_kib"] - base.rss_kib) / base.rss_kib
    fd_delta = last["fds"] - base.fds
    task_delta = None if base.tasks is None or last["tasks"] is None else last["tasks"] - base.tasks
    checks = {
        "0 failed calls": sum(soak.failures.values()) == 0,
        f"RSS grows ≤ {RSS_GROWTH_MAX:.0%}": growth <= RSS_GROWTH_MAX,
        f"fds back to baseline ± {FD_SLACK}": abs(fd_delta) <= FD_SLACK,
        f"tasks back to baseline ± {TASK_SLACK}": task_delta is not None
        and abs(task_delta) <= TASK_SLACK,
        "one session row per call, none open": rows_total == soak.calls_placed and rows_open == 0,
    }
    first = soak.rounds[1] if len(soak.rounds) > 1 else soak.rounds[0]
    drift = {
        k: None if first["frame_p99_ms"].get(k) is None or v is None else round(
            v - first["frame_p99_ms"][k], 2)
        for k, v in soak.rounds[-1]["frame_p99_ms"].items()
    }  # fmt: skip
    return {
        "rss_growth_pct": round(100 * growth, 1),
        "fd_delta": fd_delta,
        "task_delta": task_delta,
        "session_rows": rows_total,
        "calls_placed": soak.calls_placed,
        "sessions_left_open": rows_open,
        "frame_p99_drift_ms": drift,
        "checks": checks,
        "passes": all(checks.values()),
    }


async def settled_sample(http: aiohttp.ClientSession, url: str, pid: int) -> ProcessSample:
    """A sample once descriptors and tasks hold still (sessions finalise after the call's last
    frame; a loaded machine takes a while), at most ``SETTLE_MAX_S`` after the calls end."""
    last = await sample(http, url, pid)
    for _ in range(int(SETTLE_MAX_S / SETTLE_POLL_S)):
        await asyncio.sleep(SETTLE_POLL_S)
        now = await sample(http, url, pid)
        if (now.fds, now.tasks) == (last.fds, last.tasks):
            return now
        last = now
    return last


def _line(n: int, r: dict[str, Any]) -> str:
    a = r["after"]
    return (
        f"round {n}: {r['held']}/{r['calls']} held, failures {r['failures'] or 0}, lost frames "
        f"{r['lost_frames']}, frame p99 {r['frame_p99_ms']} ms, loop lag p99 "
        f"{r['loop_lag_p99_ms']} ms | RSS {a['rss_kib'] / 1024:.1f} MiB, fds {a['fds']}, "
        f"threads {a['threads']}, tasks {a['tasks']}"
    )


async def soak(args: argparse.Namespace, target: LoadTarget, pid: int, database: Path) -> Soak:
    clip = speech_clip("speech_a_8k.wav")
    plan = InboundPlan(clip, duration_s=args.call_s, loop_gap_s=3.0)
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=15)
    result = Soak()
    url = target.config.gateway_url
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        result.before_traffic = await sample(http, url, pid)
        ends = time.monotonic() + args.minutes * 60
        while not result.rounds or time.monotonic() < ends:
            report = await run_step(http, target, plan, args.calls, START_RATE_PER_S)
            await _wait_idle(http, url)
            after = await settled_sample(http, url, pid)
            if result.baseline is None:
                result.baseline = after
            result.add_round(report, after)
            if not args.json:
                print(_line(len(result.rounds), result.rounds[-1]), flush=True)
    del database
    return result


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=2.0, help="how long to keep placing rounds")
    p.add_argument("--calls", type=int, default=10, help="concurrent calls per round")
    p.add_argument("--call-s", type=float, default=30.0, help="length of each call")
    p.add_argument("--provider", choices=PROVIDERS, default="local")
    p.add_argument("--keep-logs", help="copy the gateway's log to this directory")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if not 0 < args.minutes <= MAX_MINUTES or not 1 <= args.calls <= MAX_CALLS:
        p.error(f"--minutes must be in (0, {MAX_MINUTES}], --calls in [1, {MAX_CALLS}]")
    if not args.calls / START_RATE_PER_S + 5 <= args.call_s <= 3600:
        p.error("--call-s must outlast dialling (calls / 10 + 5 s) and be at most 3600")
    keep = Path(args.keep_logs) if args.keep_logs else None
    with spawned_gateway(args.provider, None, keep) as gw:
        database = gw.log_path.parent / "kura.db"
        config = CallConfig(gw.url, gw.auth_token, "+15553000000", gw.number)
        target = LoadTarget(config, gw.pid, gw.fake_pid)
        with asyncio.Runner(loop_factory=_fast_loop()) as runner:
            result = runner.run(soak(args, target, gw.pid, database))
        rows = session_rows(database)
    outcome = verdict(result, rows.total, rows.left_open)
    outcome["end_reasons"] = rows.end_reasons
    if args.json:
        print(json.dumps({"rounds": result.rounds, "verdict": outcome}))
    else:
        assert result.before_traffic is not None and result.baseline is not None
        print(f"before traffic: {result.before_traffic.as_dict()}")
        print(f"baseline (after the warm-up round): {result.baseline.as_dict()}")
        for name, ok in outcome.pop("checks").items():
            print(f"  {'PASS' if ok else 'FAIL'}  {name}")
        print(f"row 16 {'passes' if outcome['passes'] else 'FAILS'}: {json.dumps(outcome)}")
    return 0 if outcome["passes"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
