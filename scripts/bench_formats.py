"""The media benches per carrier format (run by bench_media.py, which prints these lines).

- The A-law PCM path (a European call on a PCM16 24 kHz provider): round-trip SNR in
  300-3400 Hz, 24 kHz → A-law 8 kHz → 24 kHz through both chains, beside µ-law's; and its
  per-frame cost.
- Passthrough per format (the provider speaks the carrier's format): A-law, L16 at 16 and
  24 kHz. Inbound still decodes for the VAD (L16 is resampled to the VAD's 8 kHz);
  outbound only frames and marks.
- An app's own format per session (``python scripts/bench_formats.py`` prints these alone):
  per 20 ms frame, the socket's base64 step and the session plan's one conversion (or none)
  each way, on OpenAI, Gemini and the local demo; and the gateway VAD that times an app's turns
  on Gemini.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_signals import (  # noqa: E402
    aligned_snr_db,
    load,
    pcm16,
    quality_signals,
    round_trip,
    speech_frames,
    time_calls,
)

from gateway.api.app_audio import AppAudioCodec, app_traits  # noqa: E402
from gateway.sessions.audio_format import AudioConverter, SessionAudio  # noqa: E402
from gateway.sessions.plan import plan_session  # noqa: E402
from gateway.sessions.turn_marks import TurnMarker  # noqa: E402
from kinds.audio import PCM16_8K, PCM16_16K, PCM16_24K, PCMA_8K, PCMU_8K, AudioFormat  # noqa: E402
from kinds.clock import SystemClock  # noqa: E402
from media.chains import InboundChain, OutboundChain  # noqa: E402
from media.formats import convert  # noqa: E402
from providers.capabilities import ProviderCapabilities  # noqa: E402
from providers.gemini_live.provider import CAPABILITIES as GEMINI  # noqa: E402
from providers.local.provider import LOCAL_CAPABILITIES as LOCAL  # noqa: E402
from providers.openai_realtime.provider import OpenAIRealtimeProvider  # noqa: E402
from providers.spec import AssistantSpec  # noqa: E402

APP_FORMATS = (PCM16_24K, PCM16_16K, PCM16_8K, PCMU_8K, PCMA_8K)


def _frames(audio: bytes, fmt: AudioFormat) -> list[bytes]:
    size = 20 * fmt.bytes_per_ms
    return [audio[i : i + size] for i in range(0, len(audio) - size + 1, size)]


def _passthrough_costs(fmt: AudioFormat, count: int) -> dict[str, Any]:
    """Per-frame cost of a call whose provider speaks the carrier's ``fmt``, both ways."""
    caller = _frames(convert(pcm16(load("speech_a_8k.wav")), PCM16_8K, fmt), fmt)
    agent = _frames(convert(pcm16(load("speech_a_24k.wav")), PCM16_24K, fmt), fmt)
    inbound, outbound = InboundChain(fmt, fmt), OutboundChain(fmt, fmt)
    cost_in = time_calls(lambda i: inbound.process(caller[i % len(caller)], i % 2 == 0), count)
    cost_out = time_calls(lambda i: outbound.push("item", agent[i % len(agent)]), count)
    return {"inbound": cost_in, "outbound": cost_out}


def bench_formats() -> dict[str, Any]:
    """A-law round-trip SNR and per-frame costs of the A-law PCM path and the passthroughs."""
    speech = speech_frames()
    count = speech.count
    alaw_8k = [convert(frame, PCMU_8K, PCMA_8K) for frame in speech.ulaw_8k]
    inbound, outbound = InboundChain(PCMA_8K, PCM16_24K), OutboundChain(PCM16_24K, PCMA_8K)
    frames_24k = speech.pcm_24k
    pcm_path = {
        "inbound": time_calls(
            lambda i: inbound.process(alaw_8k[i % len(alaw_8k)], i % 2 == 0), count
        ),
        "outbound": time_calls(
            lambda i: outbound.push("item", frames_24k[i % len(frames_24k)]), count
        ),
    }
    quality = {
        f"alaw_round_trip_{name}": aligned_snr_db(signal, round_trip(signal, PCMA_8K))
        for name, signal in quality_signals().items()
    }
    return {
        "alaw_pcm_path": pcm_path,
        "alaw_passthrough": _passthrough_costs(PCMA_8K, count),
        "l16_16k_passthrough": _passthrough_costs(PCM16_16K, count),
        "l16_24k_passthrough": _passthrough_costs(PCM16_24K, count),
        "quality": quality,
    }


def print_formats(formats: dict[str, Any], ulaw_quality: dict[str, Any]) -> None:
    """The lines of ``bench_formats`` (µ-law's round trip from ``bench_quality`` beside A-law's)."""
    print("== per carrier format, per 20 ms frame (µs, best of 7 runs) ==")
    for key in ("alaw_pcm_path", "alaw_passthrough", "l16_16k_passthrough", "l16_24k_passthrough"):
        for direction in ("inbound", "outbound"):
            print(f"  {key + '_' + direction:<38} {_stats(formats[key][direction])}")
    print("== A-law round trip: 24 k -> 8 k A-law -> 24 k, SNR in 300-3400 Hz (µ-law beside) ==")
    for key, value in formats["quality"].items():
        name = key.removeprefix("alaw_round_trip_")
        ulaw = ulaw_quality[f"round_trip_{name}"]["snr_db"]
        print(f"  {key:<40} {value['snr_db']} dB (µ-law {ulaw} dB)")


def _stats(value: dict[str, float]) -> str:
    return f"mean {value['mean_us']}  median {value['median_us']}  p99 {value['p99_us']}"


def _app_providers() -> dict[str, ProviderCapabilities]:
    openai = OpenAIRealtimeProvider("sk-bench", clock=SystemClock()).capabilities("voice")
    return {"openai": openai, "gemini": GEMINI, "local": LOCAL}


def _speech_in(fmt: AudioFormat) -> list[bytes]:
    """The speech clip in ``fmt``, as 20 ms frames."""
    converter = AudioConverter(PCM16_24K, fmt)
    return _frames(converter.convert(pcm16(load("speech_a_24k.wav"))) + converter.flush(), fmt)


def _app_costs(fmt: AudioFormat, provider: ProviderCapabilities, count: int) -> dict[str, Any]:
    """One app session's per-frame work each way: base64 and the plan's conversion."""
    plan = plan_session(app_traits(fmt), provider, AssistantSpec(name="bench"), "voice")
    audio, codec = SessionAudio(plan), AppAudioCodec(fmt)
    caller = [codec.encode(frame) for frame in _speech_in(fmt)]
    agent = _speech_in(plan.outbound.provider)
    return {
        "route": "passthrough" if not plan.inbound.converts else "converted",
        "route_out": "passthrough" if not plan.outbound.converts else "converted",
        "inbound": time_calls(
            lambda i: audio.to_provider(codec.decode(caller[i % len(caller)])), count
        ),
        "outbound": time_calls(
            lambda i: codec.encode(audio.from_provider(agent[i % len(agent)])), count
        ),
    }


def bench_app_formats(count: int = 500) -> dict[str, Any]:
    """Per-frame costs of every app format on every provider, and the Gemini timing VAD."""
    costs = {
        f"{fmt.encoding}_{fmt.sample_rate_hz // 1000}k_on_{name}": _app_costs(fmt, caps, count)
        for fmt in APP_FORMATS
        for name, caps in _app_providers().items()
    }
    frames = _speech_in(PCM16_16K)
    marker = TurnMarker(PCM16_16K, 500)
    costs["gemini_timing_vad"] = {
        "inbound": time_calls(lambda i: marker.feed(frames[i % len(frames)]), count)
    }
    return costs


def print_app_formats(costs: dict[str, Any]) -> None:
    print("== app audio per session, per 20 ms frame (µs, best of 7 runs): base64 + plan ==")
    for key, value in costs.items():
        routes = f"in {value['route']}, out {value['route_out']}" if "route" in value else ""
        print(f"  {key:<24} {routes}".rstrip())
        for direction in ("inbound", "outbound"):
            if direction in value:
                print(f"    {direction:<10} {_stats(value[direction])}")


if __name__ == "__main__":
    print_app_formats(bench_app_formats())
