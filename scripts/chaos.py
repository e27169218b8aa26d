#!/usr/bin/env python3
"""Chaos (reliability.md rows 6, 8, 18, 25): break things while calls run; print what each
fault cost and whether its row passes.

    .venv/bin/python scripts/chaos.py                       # every fault once, short (~3 min)
    .venv/bin/python scripts/chaos.py --faults sigkill --kills 20      # row 18's 20 kills
    .venv/bin/python scripts/chaos.py --faults db-stall,redis --calls 10 --json

Each fault gets a fresh gateway (``kura serve`` on a temporary SQLite file) and simulated
Twilio calls (``scripts/twilio_sim``), then, once the fault is over, a round of new calls that
must all succeed (recovery). The faults:

``sigkill``       kill -9 the gateway mid-call ``--kills`` times, restarting it on the same file:
                  each time ``PRAGMA integrity_check`` is ok, the gateway starts, and no session
                  is left open (a lone node ends a crash's sessions at start).
``db-stall``      another connection holds SQLite's write lock for ``--stall-s`` (past the 5 s
                  ``busy_timeout``) while calls run and new ones ring: live calls go on, webhooks
                  answer within 5 s (row 6's degraded answer).
``provider-drop`` the fake OpenAI Realtime process is killed mid-call and restarted ``--down-s``
                  later: every live call hears the agent again (the provider reconnected) or is
                  ended by the gateway (the apology: the retries are bounded at about 2 s, so a
                  2 s outage ends calls), never left in silence to its end (rows 7 and 8).
``redis``         the gateway's own Redis (a private redis-server) is killed and restarted: live
                  calls go on and the node is ready again.

Timings on a loaded machine are noisy; the pass/fail checks hold with wide margins.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import sys
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.twilio_sim.audio import speech_clip  # noqa: E402
from scripts.twilio_sim.call import CallConfig, CallResult, run_call  # noqa: E402
from scripts.twilio_sim.carriers import CARRIERS  # noqa: E402
from scripts.twilio_sim.chaos_rig import Rig, rig  # noqa: E402
from scripts.twilio_sim.media_session import InboundPlan  # noqa: E402
from scripts.twilio_sim.proc_stats import integrity_check, session_rows  # noqa: E402

FAULTS = ("sigkill", "db-stall", "provider-drop", "redis")
START_RATE_PER_S = 10.0
WEBHOOK_DEADLINE_MS = 5000.0  # row 6: the degraded answer within 5 s
MAX_KILLS = 100
MAX_CALLS = 100
_numbers = iter(range(10**7))


class Traffic:
    """Calls placed in the background; ``results`` fill in as they go."""

    def __init__(self, http: aiohttp.ClientSession, node: Rig, calls: int, call_s: float) -> None:
        config = CallConfig(node.url, node.auth_token, "+15553000000", node.number)
        plan = InboundPlan(speech_clip("speech_a_8k.wav"), duration_s=call_s, loop_gap_s=2.0)
        identity = CARRIERS["twilio"].new_identity
        self.results = [
            CallResult(identity(f"+1555{next(_numbers) % 10**7:07d}", node.number))
            for _ in range(calls)
        ]
        self._task = asyncio.create_task(self._place(http, config, plan))

    async def _place(self, http: aiohttp.ClientSession, config: CallConfig, plan: Any) -> None:
        async with asyncio.TaskGroup() as group:
            for result in self.results:
                group.create_task(run_call(http, config, plan, result))
                await asyncio.sleep(1 / START_RATE_PER_S)

    async def streaming(self) -> None:
        await asyncio.wait_for(asyncio.gather(*(r.streaming.wait() for r in self.results)), 60)

    async def done(self) -> list[CallResult]:
        await self._task
        return self.results

    def agent_media(self) -> list[int]:
        return [r.session.agent_media if r.session else 0 for r in self.results]


def failures(results: list[CallResult]) -> int:
    return sum(1 for r in results if r.failure)


def failure_kinds(results: list[CallResult]) -> dict[str, int]:
    return dict(Counter(r.failure[:60] for r in results if r.failure))


async def recovery(http: aiohttp.ClientSession, node: Rig, args: argparse.Namespace) -> int:
    """Failed calls in a fresh round after the fault (0 to pass)."""
    return failures(await Traffic(http, node, args.calls, min(args.call_s, 10.0)).done())


async def sigkill(
    http: aiohttp.ClientSession, node: Rig, args: argparse.Namespace
) -> dict[str, Any]:
    kills: list[dict[str, Any]] = []
    for _ in range(args.kills):
        traffic = Traffic(http, node, args.calls, args.call_s)
        await traffic.streaming()
        await asyncio.sleep(random.uniform(0.5, 2.0))  # mid-call, mid-turn, mid-write
        node.gateway.kill()
        lost = failures(await traffic.done())
        verdict = integrity_check(node.database)
        start_s = node.gateway.start() + node.wait_ready()
        rows = session_rows(node.database)
        kills.append({"calls_cut": lost, "integrity": verdict, "restart_s": round(start_s, 2),
                      "left_open": rows.by_status.get("active", 0)})  # fmt: skip
    after = await recovery(http, node, args)
    return {
        "kills": len(kills),
        "integrity_ok": sum(k["integrity"] == "ok" for k in kills),
        "restart_s_max": max(k["restart_s"] for k in kills),
        "sessions_left_active": sum(k["left_open"] for k in kills),
        "end_reasons": session_rows(node.database).end_reasons,
        "recovery_failures": after,
        "passes": all(k["integrity"] == "ok" and k["left_open"] == 0 for k in kills) and after == 0,
    }


def _hold_write_lock(database: Path, seconds: float, started: threading.Event) -> None:
    db = sqlite3.connect(database, timeout=30, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        started.set()
        time.sleep(seconds)
        db.execute("COMMIT")
    finally:
        db.close()


async def db_stall(
    http: aiohttp.ClientSession, node: Rig, args: argparse.Namespace
) -> dict[str, Any]:
    live = Traffic(http, node, args.calls, args.call_s)
    await live.streaming()
    started = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(node.database, args.stall_s, started))
    holder.start()
    await asyncio.to_thread(started.wait, 10)
    ringing = Traffic(http, node, args.calls, 5.0)  # new calls while the file is locked
    rang = await ringing.done()
    await asyncio.to_thread(holder.join)
    webhook_ms = [r.webhook.elapsed_ms for r in rang if r.webhook is not None]
    lived = await live.done()
    lost = failures(lived)
    after = await recovery(http, node, args)
    slowest = max(webhook_ms, default=None)
    return {
        "stall_s": args.stall_s,
        "live_calls_lost": lost,
        "how": failure_kinds(lived),
        "webhooks_answered": f"{len(webhook_ms)}/{len(rang)}",
        "webhook_max_ms": None if slowest is None else round(slowest),
        "ringing_calls_streamed": sum(1 for r in rang if r.session is not None),
        "recovery_failures": after,
        "passes": lost == 0
        and len(webhook_ms) == len(rang)
        and after == 0
        and (slowest or 0) <= WEBHOOK_DEADLINE_MS,
    }


async def provider_drop(
    http: aiohttp.ClientSession, node: Rig, args: argparse.Namespace
) -> dict[str, Any]:
    assert node.provider is not None
    traffic = Traffic(http, node, args.calls, args.call_s)
    await traffic.streaming()
    await asyncio.sleep(min(3.0, args.call_s / 4))  # past the greeting
    before = traffic.agent_media()
    node.provider.kill()
    dropped_at = time.monotonic()
    await asyncio.sleep(args.down_s)
    await asyncio.to_thread(node.provider.start)
    outage_s = time.monotonic() - dropped_at  # with the fake's own start-up
    results = await traffic.done()
    after_media = traffic.agent_media()
    # Ended by the gateway (the apology, then its close) or still talking after the fault.
    ended = sum(1 for r in results if r.session is not None and r.session.closed_by == "gateway")
    resumed = sum(
        1
        for r, a, b in zip(results, before, after_media, strict=True)
        if b > a and not (r.session is not None and r.session.closed_by == "gateway")
    )
    silent = len(results) - resumed - ended
    after = await recovery(http, node, args)
    return {
        "provider_down_s": round(outage_s, 1),
        "calls_recovered": resumed,
        "calls_ended_by_the_gateway_after_the_apology": ended,
        "calls_left_silent": silent,
        "call_failures": failure_kinds(results),
        "recovery_failures": after,
        "passes": silent == 0 and after == 0,
    }


async def redis_restart(
    http: aiohttp.ClientSession, node: Rig, args: argparse.Namespace
) -> dict[str, Any]:
    assert node.redis is not None
    traffic = Traffic(http, node, args.calls, args.call_s)
    await traffic.streaming()
    await asyncio.sleep(1.0)
    node.redis.kill()
    await asyncio.sleep(args.down_s)
    await asyncio.to_thread(node.redis.start)
    ready_s = await asyncio.to_thread(node.wait_ready)
    lost = failures(await traffic.done())
    after = await recovery(http, node, args)
    return {
        "down_s": args.down_s,
        "live_calls_lost": lost,
        "ready_again_s": round(ready_s, 2),
        "recovery_failures": after,
        "passes": lost == 0 and after == 0,
    }


Fault = Callable[[aiohttp.ClientSession, Rig, argparse.Namespace], Awaitable[dict[str, Any]]]
RUNS: dict[str, tuple[Fault, dict[str, Any]]] = {
    "sigkill": (sigkill, {}),
    "db-stall": (db_stall, {}),
    "provider-drop": (provider_drop, {"provider": "openai-fake"}),
    "redis": (redis_restart, {"with_redis": True}),
}


async def _run(fault: Fault, node: Rig, args: argparse.Namespace) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=15)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        return await fault(http, node, args)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--faults", default=",".join(FAULTS), help=f"comma list of {FAULTS}")
    p.add_argument("--kills", type=int, default=3, help="sigkill: how many kills (row 18: 20)")
    p.add_argument("--calls", type=int, default=5, help="concurrent calls while a fault hits")
    p.add_argument("--call-s", type=float, default=15.0, help="length of each call")
    p.add_argument("--stall-s", type=float, default=8.0, help="db-stall: how long the lock is held")
    p.add_argument("--down-s", type=float, default=2.0, help="provider-drop, redis: time down")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    chosen = [f.strip() for f in args.faults.split(",") if f.strip()]
    if not chosen or any(f not in FAULTS for f in chosen):
        p.error(f"--faults: choose from {', '.join(FAULTS)}")
    if not 1 <= args.kills <= MAX_KILLS or not 1 <= args.calls <= MAX_CALLS:
        p.error(f"--kills must be in [1, {MAX_KILLS}], --calls in [1, {MAX_CALLS}]")
    if not 5 <= args.call_s <= 600 or not 0 < args.stall_s <= 60 or not 0 < args.down_s <= 60:
        p.error("--call-s must be in [5, 600], --stall-s and --down-s in (0, 60]")
    outcome: dict[str, Any] = {}
    for name in chosen:
        fault, options = RUNS[name]
        with rig(**options) as node:
            outcome[name] = asyncio.run(_run(fault, node, args))
        if not args.json:
            verdict = "passes" if outcome[name]["passes"] else "FAILS"
            print(f"{name}: {verdict}: {json.dumps(outcome[name])}", flush=True)
    if args.json:
        print(json.dumps(outcome))
    return 0 if all(o["passes"] for o in outcome.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
