#!/usr/bin/env python3
"""Measure webhook → TwiML latency of a running gateway with signed Twilio voice webhooks.

``--carrier plivo`` (V3-signed with ``--auth-token`` as Plivo's auth token) and ``--carrier
signalwire`` (``--auth-token`` as the Signing Key, in ``X-SignalWire-Signature``) measure
those carriers' voice doors the same way.

Starts nothing itself: point it at a ``kura serve`` whose ``KURA_TWILIO_AUTH_TOKEN`` is the
token given here and whose ``KURA_PUBLIC_URL`` is the ``--public-url`` (default: ``--url``),
with ``--number`` assigned to an assistant. Requests go out open-loop at a fixed rate (a slow
answer does not delay the next call, as with real carriers), each a new CallSid, and the
script prints p50/p99/max latency. Loopback only, and bounded in rate and duration.

    python scripts/bench_webhook.py --url http://127.0.0.1:8080 --auth-token T --number +15550002222
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import ipaddress
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from urllib.parse import urlsplit

import aiohttp
from twilio.request_validator import RequestValidator

VOICE_PATH = "/telephony/twilio/voice"
CARRIERS = ("twilio", "plivo", "signalwire")
Signer = Callable[[str, dict[str, str]], dict[str, str]]
MAX_RATE_PER_S = 200.0
MAX_DURATION_S = 60.0
REQUEST_TIMEOUT_S = 15.0  # Twilio's own default read timeout


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _plivo_signature(token: str, url: str, body: dict[str, str], nonce: str) -> str:
    """Plivo's V3 for a form POST to a URL without a query (its documented algorithm)."""
    signed = url + "?" + "".join(k + body[k] for k in sorted(body)) + "." + nonce
    return base64.b64encode(
        hmac.new(token.encode(), signed.encode(), hashlib.sha256).digest()
    ).decode()


def _signer(carrier: str, token: str) -> Signer:
    """Headers that sign a voice webhook to ``url`` with ``body`` as ``carrier`` does."""
    if carrier == "plivo":

        def plivo(url: str, body: dict[str, str]) -> dict[str, str]:
            nonce = uuid.uuid4().hex
            return {"X-Plivo-Signature-V3": _plivo_signature(token, url, body, nonce),
                    "X-Plivo-Signature-V3-Nonce": nonce}  # fmt: skip

        return plivo
    validator = RequestValidator(token)
    header = "X-SignalWire-Signature" if carrier == "signalwire" else "X-Twilio-Signature"
    return lambda url, body: {header: str(validator.compute_signature(url, body))}


def _fields(number: str, index: int, carrier: str = "twilio") -> dict[str, str]:
    if carrier == "plivo":
        return {"CallUUID": str(uuid.uuid4()), "CallStatus": "ringing", "Direction": "inbound",
                "From": f"1555{1_000_000 + index % 1_000_000:07d}",
                "To": number.removeprefix("+")}  # fmt: skip
    call_sid = str(uuid.uuid4()) if carrier == "signalwire" else "CA" + uuid.uuid4().hex
    return {
        "AccountSid": "AC" + "0" * 32,
        "ApiVersion": "2010-04-01",
        "CallSid": call_sid,
        "CallStatus": "ringing",
        "Direction": "inbound",
        "From": f"+1555{1_000_000 + index % 1_000_000:07d}",
        "To": number,
    }


async def _one(
    http: aiohttp.ClientSession,
    url: str,
    signer: Signer,
    signed_url: str,
    body: dict[str, str],
) -> tuple[float, str]:
    headers = signer(signed_url, body)
    started = time.perf_counter()
    try:
        async with http.post(url, data=body, headers=headers) as response:
            text = await response.text()
            outcome = str(response.status)
            if response.status == 200 and "<Stream" not in text:
                outcome = "200-no-stream"
    except (aiohttp.ClientError, TimeoutError) as exc:
        outcome = type(exc).__name__
    return (time.perf_counter() - started) * 1000, outcome


async def run(args: argparse.Namespace) -> int:
    path = VOICE_PATH.replace("twilio", args.carrier)
    url = args.url.rstrip("/") + path
    signed_url = (args.public_url or args.url).rstrip("/") + path
    signer = _signer(args.carrier, args.auth_token)
    total = int(args.rate * args.duration)
    interval_s = 1.0 / args.rate
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        await _one(
            http, url, signer, signed_url, _fields(args.number, 0, args.carrier)
        )  # warm the connection
        start = time.perf_counter()
        tasks = []
        async with asyncio.TaskGroup() as group:
            for index in range(total):
                delay = start + index * interval_s - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                body = _fields(args.number, index + 1, args.carrier)
                tasks.append(group.create_task(_one(http, url, signer, signed_url, body)))
        elapsed_s = time.perf_counter() - start
    results = [task.result() for task in tasks]
    latencies = sorted(ms for ms, _ in results)
    outcomes = Counter(outcome for _, outcome in results)
    p99 = (
        statistics.quantiles(latencies, n=100, method="inclusive")[98]
        if len(latencies) > 1
        else latencies[0]
    )
    print(f"sent {total} signed voice webhooks at {args.rate:g}/s in {elapsed_s:.1f} s to {url}")
    print(f"outcomes: {dict(outcomes)}")
    print(
        f"latency ms: p50 {statistics.median(latencies):.2f}  p99 {p99:.2f}  "
        f"max {latencies[-1]:.2f}  mean {statistics.fmean(latencies):.2f}"
    )
    return 0 if set(outcomes) == {"200"} else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="gateway base URL (loopback only)")
    parser.add_argument("--carrier", choices=CARRIERS, default="twilio", help="whose door")
    parser.add_argument("--auth-token", required=True,
                        help="the carrier's auth token (SignalWire: its Signing Key)")  # fmt: skip
    parser.add_argument("--number", required=True, help="an assigned number, E.164")
    parser.add_argument("--public-url", help="the gateway's KURA_PUBLIC_URL (default: --url)")
    parser.add_argument("--rate", type=float, default=20.0, help="webhooks per second")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds")
    args = parser.parse_args()
    if not _loopback(args.url):
        parser.error("--url must be a loopback address (127.0.0.1, ::1 or localhost)")
    if not 0 < args.rate <= MAX_RATE_PER_S or not 0 < args.duration <= MAX_DURATION_S:
        parser.error(
            f"--rate must be in (0, {MAX_RATE_PER_S:g}], --duration in (0, {MAX_DURATION_S:g}]"
        )
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
