#!/usr/bin/env python3
"""Answer → first agent audio on a phone call (issue #20: "the greeting is ready when the call
connects"), with the provider connected early (at the voice webhook) and, for comparison, late
(when the media socket opens).

    .venv/bin/python scripts/bench_answer.py [--calls 10] [--connect-delay-ms 400] \\
        [--stream-delay-ms 0,300]

Starts ``kura serve`` and the fake OpenAI Realtime server (``--connect-delay-ms``: its simulated
time to set a session up, before the socket opens) in their own processes, routes a number to
an assistant that greets first, and places ``--calls`` calls one after another with the Twilio
simulator, which opens the media socket ``--stream-delay-ms`` after the TwiML (a carrier's own
set-up time). The fake "thinks" 300 ms before its first audio. Each setting starts a fresh
gateway, so its first call is *cold* (the greeting is generated, and kept in the greeting
cache) and the others are *warm* (the cached greeting plays while the provider connects; off
with ``--greeting-cache-mb 0``). Prints, per setting, the connect delay, the cold call's and the
warm calls' median and maximum of answer (the TwiML) → first agent audio. Target: ≤ 500 ms.
``--restart``: the first gateway takes one call and stops, a second one starts on the same
greeting cache directory (``KURA_GREETING_CACHE_DIR``; ``--no-cache-dir``: memory only, as
before it existed), and its calls are reported: the first after the restart apart.
Wall-clock figures: run on a quiet machine.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.twilio_sim.audio import Clip  # noqa: E402
from scripts.twilio_sim.call import CallConfig, CallResult, run_call  # noqa: E402
from scripts.twilio_sim.gateway_proc import spawned_gateway  # noqa: E402
from scripts.twilio_sim.media_session import InboundPlan  # noqa: E402
from scripts.twilio_sim.webhook import CallIdentity  # noqa: E402

CALL_S = 2.0
GREETING = "Hello, Acme here."


async def place_calls(url: str, token: str, number: str, calls: int, delay_s: float) -> list[float]:
    plan = InboundPlan(clip=Clip("silence", (), None), duration_s=CALL_S)
    config = CallConfig(url, token, "+15550001111", number, stream_delay_s=delay_s)
    figures: list[float] = []
    async with aiohttp.ClientSession() as http:
        for _ in range(calls):
            result = CallResult(CallIdentity.new(config.from_number, config.to_number))
            await run_call(http, config, plan, result)
            if result.failure is not None:
                raise RuntimeError(f"call failed: {result.failure}")
            ms = result.answer_to_first_agent_audio_ms
            if ms is None:
                raise RuntimeError("no agent audio: the greeting never came")
            figures.append(ms)
    return figures


def run_gateway(
    args: argparse.Namespace, settings: dict[str, str], calls: int, delay_ms: float
) -> list[float]:
    """A fresh gateway process with ``settings``; its ``calls`` calls' figures."""
    fake_args = ("--connect-delay-ms", str(args.connect_delay_ms))
    with spawned_gateway(
        "openai-fake", core=None, fake_args=fake_args, greeting=GREETING, extra_settings=settings
    ) as gw:
        return asyncio.run(place_calls(gw.url, gw.auth_token, gw.number, calls, delay_ms / 1000))


def measure_restart(args: argparse.Namespace, early: bool, delay_ms: float) -> str:
    """One call on a gateway, then a restart on the same cache directory and its calls."""
    with tempfile.TemporaryDirectory(prefix="kura-greetings-") as directory:
        settings = {
            "KURA_EARLY_PROVIDER_CONNECT": "true" if early else "false",
            "KURA_GREETING_CACHE_MB": str(args.greeting_cache_mb),
        }
        if not args.no_cache_dir:
            settings["KURA_GREETING_CACHE_DIR"] = directory
        before = run_gateway(args, settings, 1, delay_ms)
        after = run_gateway(args, settings, args.calls, delay_ms)
    rest = after[1:] or after
    return (
        f"restart cache_dir={'off' if args.no_cache_dir else 'on '} "
        f"early_connect={'on ' if early else 'off'} connect_delay={args.connect_delay_ms:.0f}ms "
        f"stream_delay={delay_ms:.0f}ms answer_to_first_agent_audio_ms "
        f"before_restart cold={before[0]:.0f} after_restart first={after[0]:.0f} "
        f"then median={statistics.median(rest):.0f} max={max(rest):.0f} (calls={len(after)})"
    )


def measure(args: argparse.Namespace, early: bool, delay_ms: float) -> str:
    if args.restart:
        return measure_restart(args, early, delay_ms)
    settings = {
        "KURA_EARLY_PROVIDER_CONNECT": "true" if early else "false",
        "KURA_GREETING_CACHE_MB": str(args.greeting_cache_mb),
    }
    figures = run_gateway(args, settings, args.calls, delay_ms)
    cold, warm = figures[0], figures[1:] or figures
    return (
        f"early_connect={'on ' if early else 'off'} connect_delay={args.connect_delay_ms:.0f}ms "
        f"stream_delay={delay_ms:.0f}ms greeting_cache_mb={args.greeting_cache_mb:g} "
        f"calls={len(figures)} answer_to_first_agent_audio_ms cold={cold:.0f} "
        f"warm median={statistics.median(warm):.0f} max={max(warm):.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--connect-delay-ms", type=float, default=400.0)
    parser.add_argument("--stream-delay-ms", default="0,300", help="comma-separated list")
    parser.add_argument("--greeting-cache-mb", type=float, default=16.0, help="0: no cache")
    parser.add_argument("--restart", action="store_true", help="measure after a restart")
    parser.add_argument("--no-cache-dir", action="store_true", help="with --restart: memory only")
    args = parser.parse_args()
    delays = [float(d) for d in args.stream_delay_ms.split(",") if d.strip()]
    for delay_ms in delays:
        for early in (True, False):
            print(measure(args, early, delay_ms), flush=True)


if __name__ == "__main__":
    main()
