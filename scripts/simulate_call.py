#!/usr/bin/env python3
"""Act as Twilio (or Telnyx, or Vonage) for one phone call to a running gateway, and time what
the caller would notice.

    .venv/bin/python scripts/simulate_call.py --gateway http://127.0.0.1:8080 \\
        --auth-token T --to +15550002222 --from +15550001111 \\
        --barge-in-at 5.5 --dtmf 1@2.0 --out agent.wav [--json]

Posts the signed voice webhook, opens the media socket named by the TwiML (signed over the
``<Stream url>`` as given), streams caller audio as 20 ms µ-law frames in real time, plays the
agent's audio into a buffer (echoing marks when played, all at once on ``clear``), optionally
barges in with a second clip and presses DTMF keys, sends ``stop`` and follows the
``<Connect action>`` URL. Prints webhook → TwiML ms, socket open → first agent audio ms,
answer (the TwiML) → first agent audio ms (``--stream-delay-ms``: the carrier's TwiML → socket
time), caller speech onset → ``clear`` ms, and the gateway's per-frame delay from ``/metrics``
(before/after).
Loopback only: the gateway URL must be 127.0.0.1, ::1 or localhost.

``--carrier plivo --auth-token T`` acts as Plivo (V3-signed webhooks, its answer XML, its Audio
Streams framing with checkpoints; a clear drops them unechoed), ``--carrier signalwire
--auth-token SIGNING_KEY`` as SignalWire (its signature header, L16 at 24 kHz on the stream).
``--carrier telnyx --telnyx-signing-key SEED`` acts as Telnyx instead: the TeXML webhook signed
with Ed25519 (give the gateway the key's public half, ``--show-public-key``), Telnyx's media
framing on an unsigned socket, and the call's end posted to ``/telephony/telnyx/status``.

``--carrier vonage --vonage-signature-secret S`` acts as Vonage: the GET answer webhook signed
with an HS256 JWT (the gateway's ``KURA_VONAGE_SIGNATURE_SECRET``), the NCCO's websocket with
``websocket:connected`` then binary L16 frames at the NCCO's rate, ``notify`` echoed once
played, and the call's end posted to ``/telephony/vonage/status``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.twilio_sim import metrics, outbound_run, telnyx  # noqa: E402
from scripts.twilio_sim.audio import load_clip, write_ulaw_wav  # noqa: E402
from scripts.twilio_sim.call import CallConfig, CallResult, run_call  # noqa: E402
from scripts.twilio_sim.carriers import CARRIERS  # noqa: E402
from scripts.twilio_sim.loopback import is_loopback_url  # noqa: E402
from scripts.twilio_sim.media_session import InboundPlan  # noqa: E402
from scripts.twilio_sim.webhook import spoken_text  # noqa: E402

DTMF_DIGITS = set("0123456789*#ABCD")
MAX_DURATION_S = 300.0
HTTP_TIMEOUT_S = 15.0  # Twilio's own webhook read timeout
DIRECTIONS = ("inbound", "outbound")


def parse_dtmf(text: str) -> tuple[tuple[str, float], ...]:
    """``1@2.0,5@4.0`` → ``(("1", 2.0), ("5", 4.0))``: digits and call seconds to press them."""
    presses: list[tuple[str, float]] = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        digit, sep, at = item.partition("@")
        if not sep or digit not in DTMF_DIGITS:
            raise ValueError(f"bad DTMF press {item!r}; expected DIGIT@SECONDS such as 5@4.0")
        presses.append((digit, float(at)))
    return tuple(presses)


def frame_delay(before: metrics.Samples | None, after: metrics.Samples | None) -> dict[str, Any]:
    """Per direction: frames, mean and p99 of the gateway-added delay over the call (ms)."""
    if before is None or after is None:
        return {"available": False}
    change = metrics.delta(after, before)
    out: dict[str, Any] = {"available": True}
    for direction in DIRECTIONS:
        hist = metrics.histogram(change, "kura_media_frame_delay_seconds", direction=direction)
        mean, p99 = (hist.mean, hist.quantile(0.99)) if hist else (None, None)
        out[direction] = {
            "frames": int(hist.count) if hist else 0,
            "mean_ms": None if mean is None else round(mean * 1000, 3),
            "p99_ms": None if p99 is None else round(p99 * 1000, 3),
        }
    late = metrics.value(change, "kura_media_late_frames_total")
    out["late_frames"] = None if late is None else int(late)
    return out


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def summarise(result: CallResult, delay: dict[str, Any]) -> dict[str, Any]:
    """The call's timings and counts as one JSON-ready object."""
    s, w, a = result.session, result.webhook, result.action
    return {
        "call_sid": result.identity.call_sid,
        "failure": result.failure,
        "webhook_to_twiml_ms": _ms(w.elapsed_ms if w else None),
        "stream_url": result.stream.stream_url if result.stream else None,
        "media_handshake_ms": _ms(result.handshake_ms),
        "socket_open_to_first_agent_audio_ms": _ms(s.first_agent_audio_ms if s else None),
        "answer_to_first_agent_audio_ms": _ms(result.answer_to_first_agent_audio_ms),
        "speech_onset_to_clear_ms": _ms(s.clear_after_onset_ms if s else None),
        "frames_sent": s.frames_sent if s else 0,
        "dtmf_sent": s.dtmf_sent if s else 0,
        "agent_media_messages": s.agent_media if s else 0,
        "marks_received": s.marks_received if s else 0,
        "marks_echoed": s.marks_echoed if s else 0,
        "clears": len(s.clear_times) if s else 0,
        "send_lag_max_ms": _ms(s.send_lag_max_ms if s else None),
        "closed_by": s.closed_by if s else None,
        "agent_audio_received_s": round(result.agent_audio_s, 2),
        "agent_audio_cleared_s": round(result.agent_audio_cleared_s, 2),
        "frame_delay": delay,
        "action_status": a.status if a else None,
        "action_ms": _ms(a.elapsed_ms if a else None),
        "action_twiml": a.text if a else None,
    }


def print_text(summary: dict[str, Any]) -> None:
    """The summary for a person reading a terminal."""
    width = max(len(key) for key in summary)
    for key, val in summary.items():
        if key in {"frame_delay", "action_twiml"}:
            continue
        print(f"{key:<{width}}  {val}")
    delay = summary["frame_delay"]
    if not delay.get("available"):
        print("gateway frame delay: /metrics not available")
    else:
        for direction in DIRECTIONS:
            d = delay[direction]
            print(
                f"gateway frame delay {direction:<8} frames {d['frames']:>5}  "
                f"mean {d['mean_ms']} ms  p99 ≈ {d['p99_ms']} ms"
            )
        print(f"gateway late frames: {delay['late_frames']}")
    if summary["action_twiml"]:
        print(
            "after the stream (<Connect action>, or the carrier's status URL) the gateway answered:"
        )
        print(summary["action_twiml"])
        for line in spoken_text(summary["action_twiml"]):
            print(f"  {line}")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    barge = load_clip(args.barge_clip) if args.barge_in_at is not None else None
    plan = InboundPlan(
        clip=load_clip(args.audio),
        duration_s=args.duration_s,
        barge_in_at_s=args.barge_in_at,
        barge_clip=barge,
        dtmf=parse_dtmf(args.dtmf or ""),
    )
    config = CallConfig(
        gateway_url=args.gateway,
        public_url=args.public_url,
        auth_token=args.auth_token,
        from_number=args.from_number,
        to_number=args.to,
        speed=args.speed,
        record_max_s=args.duration_s + 5 if args.out else None,
        carrier=args.carrier,
        stream_delay_s=args.stream_delay_ms / 1000,
    )
    new_identity = CARRIERS[args.carrier].new_identity
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=HTTP_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        before = await metrics.scrape(http, args.gateway)
        result = CallResult(new_identity(config.from_number, config.to_number))
        await run_call(http, config, plan, result)
        await asyncio.sleep(0.2)  # let the gateway record the call's last frames
        after = await metrics.scrape(http, args.gateway)
    if args.out:
        write_ulaw_wav(Path(args.out), result.recording)
    return summarise(result, frame_delay(before, after))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--gateway", help="gateway base URL (loopback only)")
    p.add_argument("--public-url", help="the gateway's KURA_PUBLIC_URL (default: --gateway)")
    p.add_argument("--carrier", choices=tuple(CARRIERS), default="twilio",
                   help="which carrier to act as")  # fmt: skip
    p.add_argument(
        "--auth-token",
        help="the gateway's Twilio or Plivo auth token, or its "
        "SignalWire signing key (--carrier twilio, plivo, signalwire)",
    )
    p.add_argument(
        "--telnyx-signing-key",
        help="base64 Ed25519 seed to sign Telnyx webhooks with (--carrier telnyx); the gateway "
        "needs its public half as KURA_TELNYX_PUBLIC_KEY (see --show-public-key)",
    )
    p.add_argument(
        "--vonage-signature-secret",
        help="the signature secret to sign Vonage webhooks with (--carrier vonage): the "
        "gateway's KURA_VONAGE_SIGNATURE_SECRET",
    )
    p.add_argument("--show-public-key", action="store_true",
                   help="print the public half of --telnyx-signing-key and exit")  # fmt: skip
    p.add_argument("--to", help="the called number, E.164 (routed to an assistant)")
    p.add_argument("--from", dest="from_number", default="+15550001111", help="the caller")
    p.add_argument(
        "--audio",
        default="speech_a_8k.wav:1",
        help="caller audio: a WAV path, or a built-in clip (speech_a_8k.wav, speech_b_8k.wav, "
        "speech_c_8k.wav; ':N' keeps the first N phrases)",
    )
    p.add_argument("--duration-s", type=float, default=10.0, help="call length in seconds")
    p.add_argument("--barge-in-at", type=float, help="seconds into the call to talk over the agent")
    p.add_argument("--barge-clip", default="speech_b_8k.wav:1", help="what to say when barging in")
    p.add_argument("--dtmf", help="keys to press, DIGIT@SECONDS, comma-separated: 1@2.0,5@4.0")
    p.add_argument("--out", help="write the agent's audio, as heard, to this WAV")
    p.add_argument("--speed", type=float, default=1.0, help="call-clock speed (tests only)")
    p.add_argument("--stream-delay-ms", type=float, default=0.0,
                   help="wait this long after the TwiML before opening the media socket, as a "
                   "carrier does (default 0)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--outbound", action="store_true",
                   help="place calls through POST /api/v1/calls on a gateway this script starts, "
                   "against a fake Twilio REST API, and time them")  # fmt: skip
    p.add_argument("--calls", type=int, default=100, help="--outbound: calls for the POST timing")
    p.add_argument("--rate", type=float, default=10.0, help="--outbound: calls per second")
    return p


def _check_args(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """The options each carrier needs; ``auth_token`` carries the carrier's signing secret."""
    if not args.gateway or not args.to:
        p.error("--gateway and --to are required")
    if args.carrier == "telnyx":
        if not args.telnyx_signing_key:
            p.error("--carrier telnyx needs --telnyx-signing-key")
        args.auth_token = args.telnyx_signing_key
    elif args.carrier == "vonage":
        if not args.vonage_signature_secret:
            p.error("--carrier vonage needs --vonage-signature-secret")
        args.auth_token = args.vonage_signature_secret
    elif not args.auth_token:
        p.error(f"--carrier {args.carrier} needs --auth-token")


def _outbound(p: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if not 1 <= args.calls <= 1000 or not 0 < args.rate <= 100:
        p.error("--calls must be in [1, 1000] and --rate in (0, 100]")
    result = asyncio.run(outbound_run.run_outbound(args.calls, args.rate))
    if args.json:
        print(json.dumps(result))
        return 0
    post = result["post_to_carrier"]
    print(f"POST /api/v1/calls -> carrier request: {post['calls']} calls at "
          f"{post['rate_per_s']:g}/s, p50 {post['p50_ms']} ms, p99 {post['p99_ms']} ms, "
          f"max {post['max_ms']} ms (target p99 <= 50 ms); the first call of the fresh "
          f"gateway, not counted: {post['first_ms']} ms")  # fmt: skip
    answer = result["answer"]
    print(f"answer -> first agent audio on the wire: {answer['answer_to_first_agent_audio_ms']} "
          f"ms, local provider (target <= 300 ms); {answer['amd']}")  # fmt: skip
    limit = result["max_duration"]
    print(f"max_duration_s {limit['limit_s']}: hang-up overshoot {limit['overshoot_no_stream_ms']}"
          f" ms (stream never opened), {limit['overshoot_streaming_ms']} ms (streaming) "
          "(target <= 1000 ms)")  # fmt: skip
    return 0


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.show_public_key:
        print(telnyx.public_key(telnyx.signing_key(args.telnyx_signing_key or "")))
        return 0
    if args.outbound:
        return _outbound(p, args)
    _check_args(p, args)
    if not is_loopback_url(args.gateway):
        p.error("--gateway must be a loopback address (127.0.0.1, ::1 or localhost)")
    if not 0 < args.duration_s <= MAX_DURATION_S:
        p.error(f"--duration-s must be in (0, {MAX_DURATION_S:g}]")
    try:
        summary = asyncio.run(run(args))
    except ValueError as exc:
        p.error(str(exc))
    if args.json:
        print(json.dumps(summary))
    else:
        print_text(summary)
    return 0 if summary["failure"] is None else 1


if __name__ == "__main__":
    sys.exit(main())
