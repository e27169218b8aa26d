#!/usr/bin/env python3
"""Measure a carrier's voice webhook → answer latency: signed webhooks at a fixed rate.

Each request is what the carrier sends for a new call, signed its way by the simulator's own
carrier modules (scripts/twilio_sim): Twilio's ``X-Twilio-Signature``, SignalWire's (Twilio's
algorithm keyed by the Signing Key), Plivo's V3 HMAC, Telnyx's Ed25519 over
``timestamp|body`` and Vonage's HS256 JWT on a GET answer URL. Requests go out open-loop at a
fixed rate (a slow answer does not delay the next call, as with real carriers), each a new call,
and the script prints p50/p99/max latency, and with ``--spawn`` the gateway's CPU. Target: p99
≤ 20 ms at 20 calls/s per carrier. Loopback only; bounded in rate and duration.

    # a fresh gateway per carrier (pinned to core 0, temporary SQLite, local provider):
    .venv/bin/python scripts/bench_webhook.py --spawn --carrier telnyx
    .venv/bin/python scripts/bench_webhook.py --spawn --carrier all
    # or a running gateway whose credential for that carrier is --auth-token (Telnyx: the
    # base64 signing seed whose public key it has; Vonage: its signature secret):
    .venv/bin/python scripts/bench_webhook.py --url http://127.0.0.1:8080 --auth-token T \\
        --number +15550002222 [--carrier plivo] [--public-url https://gw.example.com]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.twilio_sim import plivo, signalwire, telnyx, vonage, webhook  # noqa: E402
from scripts.twilio_sim.call import CallConfig  # noqa: E402
from scripts.twilio_sim.carriers import CARRIERS  # noqa: E402
from scripts.twilio_sim.gateway_proc import cpu_seconds, spawned_gateway  # noqa: E402
from scripts.twilio_sim.loopback import is_loopback_url  # noqa: E402
from scripts.twilio_sim.webhook import CallIdentity, WebhookReply  # noqa: E402

MAX_RATE_PER_S = 200.0
MAX_DURATION_S = 60.0
REQUEST_TIMEOUT_S = 15.0  # Twilio's own default read timeout
TARGET_P99_MS = 20.0
GATEWAY_CORE = 0


@dataclass(frozen=True)
class Door:
    """A carrier's voice webhook on one gateway: where to send, what to sign with."""

    carrier: str
    config: CallConfig  # gateway_url, public_url, auth_token, to_number
    signer: Any  # the carrier's key object, built once (a Twilio validator, a Telnyx key)

    @classmethod
    def of(cls, config: CallConfig) -> Door:
        token = config.auth_token
        signer: Any = token
        if config.carrier == "twilio":
            signer = RequestValidator(token)
        elif config.carrier == "telnyx":
            signer = telnyx.signing_key(token)
        return cls(config.carrier, config, signer)

    async def call(self, http: aiohttp.ClientSession, identity: CallIdentity) -> WebhookReply:
        """The voice webhook of a new call, as the carrier sends it (timed without signing)."""
        c, url, gw = self.config, self.config.voice_url, self.config.gateway_url
        if self.carrier == "telnyx":
            return await telnyx.post_signed(
                http, self.signer, url, gw, telnyx.fields(identity, "ringing")
            )
        if self.carrier == "vonage":
            return await vonage.answer(http, c.auth_token, url, gw, identity)
        if self.carrier == "plivo":
            return await plivo.post_signed(
                http, c.auth_token, url, gw, plivo.fields(identity, "ringing")
            )
        if self.carrier == "signalwire":
            fields = identity.fields("ringing")
            return await signalwire.post_signed(http, c.auth_token, url, gw, fields)
        return await webhook.post_signed(http, self.signer, url, gw, identity.fields("ringing"))

    def connects(self, text: str) -> bool:
        """Whether an answer connects the call to a media stream (and is not a refusal)."""
        if self.carrier == "vonage":
            return '"websocket"' in text
        return "<Stream" in text


async def _one(http: aiohttp.ClientSession, door: Door, index: int) -> tuple[float | None, str]:
    identity = CARRIERS[door.carrier].new_identity(
        f"+1555{1_000_000 + index % 1_000_000:07d}", door.config.to_number
    )
    try:
        reply = await door.call(http, identity)
    except (aiohttp.ClientError, TimeoutError) as exc:
        return None, type(exc).__name__
    outcome = str(reply.status)
    if reply.status == 200 and not door.connects(reply.text):
        outcome = "200-no-stream"
    return reply.elapsed_ms, outcome


async def measure(door: Door, rate: float, duration_s: float) -> dict[str, Any]:
    """``rate`` webhooks a second for ``duration_s``; latency figures and outcomes."""
    total = int(rate * duration_s)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        await _one(http, door, 0)  # warm the connection (and the gateway's first-call paths)
        start = time.perf_counter()
        async with asyncio.TaskGroup() as group:
            tasks = []
            for index in range(total):
                delay = start + index / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(group.create_task(_one(http, door, index + 1)))
        elapsed_s = time.perf_counter() - start
    results = [task.result() for task in tasks]
    latencies = sorted(ms for ms, _ in results if ms is not None)
    figures: dict[str, Any] = {
        "carrier": door.carrier,
        "sent": total,
        "rate_per_s": rate,
        "elapsed_s": round(elapsed_s, 1),
        "outcomes": dict(Counter(outcome for _, outcome in results)),
    }
    if latencies:
        p99 = statistics.quantiles(latencies, n=100, method="inclusive")[98] if len(
            latencies
        ) > 1 else latencies[0]  # fmt: skip
        figures |= {"p50_ms": round(statistics.median(latencies), 2), "p99_ms": round(p99, 2),
                    "max_ms": round(latencies[-1], 2),
                    "mean_ms": round(statistics.fmean(latencies), 2)}  # fmt: skip
    figures["meets_target"] = (
        figures["outcomes"] == {"200": total} and figures.get("p99_ms", 1e9) <= TARGET_P99_MS
    )
    return figures


def report(figures: dict[str, Any], url: str) -> str:
    lines = [
        f"{figures['carrier']}: sent {figures['sent']} signed voice webhooks at "
        f"{figures['rate_per_s']:g}/s in {figures['elapsed_s']} s to {url}",
        f"  outcomes: {figures['outcomes']}",
    ]
    if "p99_ms" in figures:
        lines.append(
            f"  latency ms: p50 {figures['p50_ms']:.2f}  p99 {figures['p99_ms']:.2f}  "
            f"max {figures['max_ms']:.2f}  mean {figures['mean_ms']:.2f}"
        )
    if (cpu := figures.get("gateway_cpu_pct")) is not None:
        lines.append(f"  gateway CPU {cpu} % of its core")
    verdict = "meets" if figures["meets_target"] else "misses"
    lines.append(f"  {verdict} the target (every answer connects, p99 ≤ {TARGET_P99_MS:g} ms)")
    return "\n".join(lines)


def _spawned(carrier: str, args: argparse.Namespace) -> dict[str, Any]:
    """One carrier on a fresh gateway pinned to ``GATEWAY_CORE``."""
    with spawned_gateway("local", GATEWAY_CORE, carrier=carrier) as gw:
        config = CallConfig(gw.url, gw.auth_token, "+15551000000", gw.number, carrier=carrier)
        cpu_before, wall_before = cpu_seconds(gw.pid), time.monotonic()
        figures = asyncio.run(measure(Door.of(config), args.rate, args.duration))
        wall_s = time.monotonic() - wall_before
        figures["gateway_cpu_pct"] = round(100 * (cpu_seconds(gw.pid) - cpu_before) / wall_s, 1)
        print(report(figures, config.voice_url), flush=True)
        return figures


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--spawn", action="store_true", help="start a fresh kura serve (core 0)")
    p.add_argument("--url", help="a running gateway's base URL (loopback only)")
    p.add_argument("--carrier", choices=(*CARRIERS, "all"), default="twilio",
                   help="whose door (all: each carrier in turn, with --spawn)")  # fmt: skip
    p.add_argument("--auth-token", help="the carrier credential the gateway trusts: auth token "
                   "(SignalWire: Signing Key; Telnyx: base64 signing seed; Vonage: signature "
                   "secret)")  # fmt: skip
    p.add_argument("--number", help="an assigned number, E.164")
    p.add_argument("--public-url", help="the gateway's KURA_PUBLIC_URL (default: --url)")
    p.add_argument("--rate", type=float, default=20.0, help="webhooks per second")
    p.add_argument("--duration", type=float, default=10.0, help="seconds")
    return p


def check(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Bounds and the loopback-only rule; a usage error (exit 2) on a violation."""
    if not args.spawn:
        if not (args.url and args.auth_token and args.number):
            p.error("give --spawn, or --url, --auth-token and --number")
        if not is_loopback_url(args.url):
            p.error("--url must be a loopback address (127.0.0.1, ::1 or localhost)")
        if args.carrier == "all":
            p.error("--carrier all needs --spawn (each carrier on a fresh gateway)")
    if not 0 < args.rate <= MAX_RATE_PER_S or not 0 < args.duration <= MAX_DURATION_S:
        p.error(f"--rate must be in (0, {MAX_RATE_PER_S:g}], --duration in (0, {MAX_DURATION_S:g}]")


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    check(p, args)
    if not args.spawn:
        config = CallConfig(args.url, args.auth_token, "+15551000000", args.number,
                            args.public_url, carrier=args.carrier)  # fmt: skip
        figures = asyncio.run(measure(Door.of(config), args.rate, args.duration))
        print(report(figures, config.voice_url))
        return 0 if figures["meets_target"] else 1
    cores = os.sched_getaffinity(0)
    if len(cores) > 1:  # the requests (and their signing) off the gateway's core
        os.sched_setaffinity(0, cores - {GATEWAY_CORE})
    carriers = list(CARRIERS) if args.carrier == "all" else [args.carrier]
    results = [_spawned(carrier, args) for carrier in carriers]
    return 0 if all(r["meets_target"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
