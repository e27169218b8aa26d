#!/usr/bin/env python3
"""A call's media hot path per carrier, in CPU time: what one 20 ms of call costs the gateway
in the carrier's codec and the media chains, both ways, beside Twilio's.

    .venv/bin/python scripts/bench_carriers.py [--provider local|openai|gemini] [--frames 2000]

Per carrier, the frames are what that carrier sends (Twilio's and SignalWire's JSON, Telnyx's
snake_case JSON, Plivo's camelCase JSON, Vonage's binary L16), in the audio its answer asks for
on that provider, and the provider's port comes from the same session plan a real call gets.
Inbound is one wire frame decoded and put through the inbound chain as a call sets it up (noise
suppression, VAD, the default interruption policy and its echo guard, conversion to the port);
outbound is 20 ms of the provider's audio framed, marked, encoded for the wire and fed to the
echo guard.
The figure is CPU time (``time.process_time``), the best of ``--repeats`` runs with the carriers
taking turns run by run: a busy machine delays a run but barely changes the CPU it takes, so
carriers compare on a shared machine where the load test's figures swing. What this leaves out
is the same for every carrier but the WebSocket frame itself (aiohttp reads and writes a few
hundred bytes more for JSON and base64 than for raw L16) and the provider's own work.
"""

from __future__ import annotations

import argparse
import base64
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # stdlib audioop leaves in 3.13
    import audioop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_signals import load, pcm16  # noqa: E402

from gateway.sessions.plan import plan_session  # noqa: E402
from gateway.telephony import (  # noqa: E402
    plivo_codec,
    signalwire,
    telnyx_codec,
    twilio_codec,
    vonage_codec,
)
from gateway.telephony.bridge_ports import call_traits  # noqa: E402
from gateway.telephony.carriers.codec import CarrierCapabilities, CarrierCodec  # noqa: E402
from gateway.telephony.carriers.events import MediaReceived, PlaceMark, PlayAudio  # noqa: E402
from gateway.telephony.media_socket import interruption_settings  # noqa: E402
from kinds.audio import PCM16_24K, PCMU_8K, AudioFormat  # noqa: E402
from kinds.clock import SystemClock  # noqa: E402
from media import denoise  # noqa: E402
from media.chains import InboundChain, OutboundChain  # noqa: E402
from media.formats import convert  # noqa: E402
from providers.capabilities import ProviderCapabilities  # noqa: E402
from providers.gemini_live.provider import CAPABILITIES as GEMINI  # noqa: E402
from providers.local.provider import LOCAL_CAPABILITIES as LOCAL  # noqa: E402
from providers.openai_realtime.provider import OpenAIRealtimeProvider  # noqa: E402
from providers.spec import AssistantSpec  # noqa: E402

STREAM_ID = "MZ" + "0" * 32
FRAME_MS = 20


@dataclass(frozen=True)
class Carrier:
    capabilities: CarrierCapabilities
    audio: Callable[[ProviderCapabilities], AudioFormat]  # what a call carries, as answered
    codec: Callable[[AudioFormat], CarrierCodec]  # for a call carrying that format
    wire: Callable[[int, bytes, AudioFormat], str | bytes]  # what the carrier sends


def _twilio_frame(seq: int, payload: bytes, _fmt: AudioFormat) -> str:
    media = {"track": "inbound", "chunk": str(seq), "timestamp": str(seq * FRAME_MS),
             "payload": base64.b64encode(payload).decode()}  # fmt: skip
    frame = {"event": "media", "sequenceNumber": str(seq + 2), "media": media,
             "streamSid": STREAM_ID}  # fmt: skip
    return orjson.dumps(frame).decode()


def _telnyx_frame(seq: int, payload: bytes, _fmt: AudioFormat) -> str:
    media = {"track": "inbound", "chunk": str(seq + 1), "timestamp": str(seq * FRAME_MS),
             "payload": base64.b64encode(payload).decode()}  # fmt: skip
    frame = {"event": "media", "sequence_number": str(seq + 2), "media": media,
             "stream_id": STREAM_ID}  # fmt: skip
    return orjson.dumps(frame).decode()


def _plivo_frame(seq: int, payload: bytes, _fmt: AudioFormat) -> str:
    media = {"track": "inbound", "timestamp": str(seq * FRAME_MS), "chunk": seq + 1,
             "payload": base64.b64encode(payload).decode()}  # fmt: skip
    frame = {"event": "media", "sequenceNumber": seq + 2, "streamId": STREAM_ID, "media": media}
    return orjson.dumps(frame).decode()


def _vonage_audio(provider: ProviderCapabilities) -> AudioFormat:
    rate_hz = vonage_codec.answer_rate(provider.input_formats, provider.output_formats)
    return PCMU_8K if rate_hz == vonage_codec.ULAW_RATE_HZ else AudioFormat("pcm16", rate_hz)


def _vonage_frame(_seq: int, payload: bytes, fmt: AudioFormat) -> bytes:
    """Raw L16 as Vonage sends it (a µ-law call's audio is 8 kHz L16 on the wire)."""
    return audioop.ulaw2lin(payload, 2) if fmt == PCMU_8K else payload


def _vonage_codec(fmt: AudioFormat) -> CarrierCodec:
    return vonage_codec.VonageCodec(STREAM_ID, ulaw=fmt == PCMU_8K)


CARRIERS = {
    "twilio": Carrier(twilio_codec.CAPABILITIES, lambda _: PCMU_8K,
                      lambda _: twilio_codec.TwilioCodec(STREAM_ID), _twilio_frame),
    "telnyx": Carrier(telnyx_codec.CAPABILITIES, lambda _: PCMU_8K,
                      lambda _: telnyx_codec.TelnyxCodec(STREAM_ID), _telnyx_frame),
    "plivo": Carrier(plivo_codec.CAPABILITIES, lambda _: PCMU_8K,
                     lambda _: plivo_codec.PlivoCodec(STREAM_ID), _plivo_frame),
    "signalwire": Carrier(signalwire.CAPABILITIES, lambda p: signalwire.codec_for(p)[1],
                          lambda _: twilio_codec.TwilioCodec(STREAM_ID), _twilio_frame),
    # What every SignalWire call asked for before its codec followed the provider.
    "signalwire-l16": Carrier(signalwire.CAPABILITIES, lambda _: PCM16_24K,
                              lambda _: twilio_codec.TwilioCodec(STREAM_ID), _twilio_frame),
    "vonage": Carrier(vonage_codec.CAPABILITIES, _vonage_audio, _vonage_codec, _vonage_frame),
    # What a Vonage call on a µ-law provider asked for before: L16 at 24 kHz.
    "vonage-24k": Carrier(vonage_codec.CAPABILITIES, lambda _: PCM16_24K, _vonage_codec,
                          _vonage_frame),
}  # fmt: skip


@dataclass(frozen=True)
class Steps:
    inbound: Callable[[], None]
    outbound: Callable[[], None]


def _providers() -> dict[str, ProviderCapabilities]:
    openai = OpenAIRealtimeProvider("sk-bench", clock=SystemClock()).capabilities("voice")
    return {"local": LOCAL, "openai": openai, "gemini": GEMINI}


def _frames(audio: bytes, fmt: AudioFormat) -> list[bytes]:
    size = FRAME_MS * fmt.bytes_per_ms
    return [audio[i : i + size] for i in range(0, len(audio) - size + 1, size)]


def _cpu_s(run: Callable[[], None], count: int) -> float:
    started = time.process_time()
    for _ in range(count):
        run()
    return time.process_time() - started


def _steps(name: str, provider: ProviderCapabilities, count: int, runs: int) -> Steps:
    """One ``name`` call on ``provider``: a step of each direction, 20 ms of call each."""
    carrier = CARRIERS[name]
    caps = carrier.capabilities.for_call(carrier.audio(provider))
    plan = plan_session(call_traits(caps), provider, AssistantSpec(name="bench"), "voice")
    speech = pcm16(load("speech_a_24k.wav"))
    caller = _frames(convert(speech, PCM16_24K, caps.audio), caps.audio)
    # Numbered on through every run: Telnyx's codec drops a chunk number it has seen.
    wire = [carrier.wire(i, caller[i % len(caller)], caps.audio) for i in range(count * runs)]
    agent = _frames(convert(speech, PCM16_24K, plan.outbound.port), plan.outbound.port)
    codec = carrier.codec(caps.audio)
    # As a call's bridge sets it up: denoised (KURA_CALL_NOISE_SUPPRESSION's default), and the
    # default interruption policy with its echo guard fed what is played.
    inbound = InboundChain(
        caps.audio, plan.inbound.port, noise_suppression=denoise.AVAILABLE,
        interruption=interruption_settings({}),
    )  # fmt: skip
    outbound = OutboundChain(plan.outbound.port, caps.audio)
    sent: list[bytes] = []
    at = [0, 0]

    def one_in() -> None:
        event = codec.decode(wire[at[0]])
        at[0] += 1
        if type(event) is MediaReceived:
            inbound.process(event.payload, False)

    def one_out() -> None:
        at[1] += 1
        for batch in outbound.push(f"item{at[1] // 50}", agent[at[1] % len(agent)]):
            for frame in batch.frames:
                sent.append(codec.encode(PlayAudio(frame)))
                inbound.agent_played(frame)  # the echo guard's reference, as the bridge does
            sent.append(codec.encode(PlaceMark(batch.mark.name)))
        if len(sent) > 1000:
            sent.clear()

    return Steps(one_in, one_out)


def bench(provider: ProviderCapabilities, count: int, runs: int) -> dict[str, dict[str, float]]:
    """CPU µs per 20 ms of call per carrier and direction, the best of ``runs``; the carriers
    take turns run by run, so a burst of load elsewhere touches them all alike."""
    steps = {name: _steps(name, provider, count, runs) for name in CARRIERS}
    best = {name: {"inbound": float("inf"), "outbound": float("inf")} for name in CARRIERS}
    for _ in range(runs):
        for name, step in steps.items():
            for direction, run in (("inbound", step.inbound), ("outbound", step.outbound)):
                best[name][direction] = min(best[name][direction], _cpu_s(run, count))
    return {name: {k: v / count * 1e6 for k, v in cost.items()} for name, cost in best.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--provider", choices=("local", "openai", "gemini"), default="local")
    parser.add_argument("--frames", type=int, default=2000, help="20 ms frames per run")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    provider = _providers()[args.provider]
    results = bench(provider, args.frames, args.repeats)
    base = sum(results["twilio"].values())
    print(f"== CPU per 20 ms of one call, codec + media chains (µs, best of {args.repeats}), "
          f"provider {args.provider} ==")  # fmt: skip
    for name, cost in results.items():
        total = sum(cost.values())
        audio = CARRIERS[name].audio(provider)
        print(f"  {name:<14} {audio.encoding:<5} {audio.sample_rate_hz // 1000:>2} kHz  "
              f"inbound {cost['inbound']:6.1f}  outbound {cost['outbound']:6.1f}  "
              f"total {total:6.1f}  ({total / base * 100 - 100:+.0f} % vs Twilio)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
