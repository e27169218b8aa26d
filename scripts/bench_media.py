#!/usr/bin/env python3
"""Measure the media hot path: cost, latency, round-trip quality, barge-in speed and accuracy.

    .venv/bin/python scripts/bench_media.py [--json]

Costs are wall-clock per 20 ms frame; each is the best of seven runs (lowest mean), because the
machine is shared. Signals are the fixtures in tests/fixtures/audio plus 60 s noise runs made
with the fixture generators (other seeds). soxr figures are printed as references. A Gemini
call's lines (16 kHz in, 24 kHz out) show what resampling once per direction saves over the
path before the session plan (8 → 24 → 16 kHz in). The lines per carrier format (the A-law
PCM path's cost and round-trip SNR beside µ-law's, A-law and L16 passthrough) come from
bench_formats.py.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import soxr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_formats import bench_formats, print_formats  # noqa: E402
from bench_signals import (  # noqa: E402
    FRAME_US,
    aligned_snr_db,
    load,
    pcm16,
    quality_signals,
    round_trip,
    speech_frames,
    time_calls,
    ulaw_frames,
)
from make_audio_fixtures import DEFAULT_OUT, pink_noise, white_noise  # noqa: E402

from kinds.audio import PCM16_16K, PCMU_8K  # noqa: E402
from media.bargein import BargeInDetector  # noqa: E402
from media.chains import InboundChain, OutboundChain  # noqa: E402
from media.g711 import pcm16_to_ulaw, ulaw_to_pcm16  # noqa: E402
from media.resample import StreamResampler  # noqa: E402

SPEECH = ("speech_a_8k.wav", "speech_b_8k.wav", "speech_c_8k.wav")


def bench_cost() -> dict[str, Any]:
    """Per-frame cost of the inbound and outbound chains on speech (and soxr HQ primitives)."""
    speech = speech_frames()
    speech_8k, frames_24k, count = speech.ulaw_8k, speech.pcm_24k, speech.count
    inbound, outbound = InboundChain(), OutboundChain()
    cost_in = time_calls(
        lambda i: inbound.process(speech_8k[i % len(speech_8k)], i % 2 == 0), count
    )
    cost_out = time_calls(lambda i: outbound.push("item", frames_24k[i % len(frames_24k)]), count)
    detector = BargeInDetector()
    pcm_frames = [ulaw_to_pcm16(frame) for frame in speech_8k]
    cost_barge_in = time_calls(
        lambda i: detector.process_frame(pcm_frames[i % len(pcm_frames)], True), count
    )
    up = soxr.ResampleStream(8000, 24000, 1, dtype="int16", quality="HQ")
    down = soxr.ResampleStream(24000, 8000, 1, dtype="int16", quality="HQ")

    def soxr_pair(i: int) -> None:
        pcm = np.frombuffer(ulaw_to_pcm16(speech_8k[i % len(speech_8k)]), np.int16)
        up.resample_chunk(pcm).tobytes()
        frame = np.frombuffer(frames_24k[i % len(frames_24k)], np.int16)
        pcm16_to_ulaw(down.resample_chunk(frame).tobytes())

    # µ-law passthrough (a provider that speaks G.711, OpenAI's audio/pcmu): the inbound chain
    # still decodes for the VAD but does not resample; outbound only frames and marks.
    ulaw_in, ulaw_out = InboundChain(PCMU_8K, PCMU_8K), OutboundChain(PCMU_8K, PCMU_8K)
    agent_ulaw = ulaw_frames(pcm16_to_ulaw(pcm16(load("speech_a_8k.wav"))))
    pass_in = time_calls(
        lambda i: ulaw_in.process(speech_8k[i % len(speech_8k)], i % 2 == 0), count
    )
    pass_out = time_calls(lambda i: ulaw_out.push("item", agent_ulaw[i % len(agent_ulaw)]), count)
    pair_mean = cost_in["mean_us"] + cost_out["mean_us"]
    return {
        "ulaw_passthrough_inbound_per_frame": pass_in,
        "ulaw_passthrough_outbound_per_frame": pass_out,
        "ulaw_passthrough_pair_mean_us": round(pass_in["mean_us"] + pass_out["mean_us"], 2),
        "inbound_per_frame": cost_in,
        "outbound_per_frame": cost_out,
        "pair_mean_us": round(pair_mean, 2),
        "calls_per_core": int(FRAME_US / pair_mean),
        "barge_in_detector_per_frame": cost_barge_in,
        "reference_soxr_hq_bare_primitives_pair": time_calls(soxr_pair, count),
    }


def bench_gemini_paths() -> dict[str, Any]:
    """Per-frame cost of a Gemini call (16 kHz in, 24 kHz out): the caller's audio resampled
    8 → 16 kHz once, against the path before the session plan (8 → 24 → 16 kHz, two
    resamplers); the agent's 24 kHz audio goes 24 → 8 kHz → µ-law once on both paths."""
    speech = speech_frames()
    speech_8k, frames_24k, count = speech.ulaw_8k, speech.pcm_24k, speech.count
    once = InboundChain(PCMU_8K, PCM16_16K)  # the session plan: one resampler, 8 → 16 kHz
    old, to_16k = InboundChain(), StreamResampler(24000, 16000)  # the bridge, then the session
    outbound = OutboundChain()
    cost_once = time_calls(lambda i: once.process(speech_8k[i % len(speech_8k)], i % 2 == 0), count)
    cost_old = time_calls(
        lambda i: to_16k.process(old.process(speech_8k[i % len(speech_8k)], i % 2 == 0).audio),
        count,
    )
    cost_out = time_calls(lambda i: outbound.push("item", frames_24k[i % len(frames_24k)]), count)
    # The resampling alone, without µ-law decoding or the VAD, to isolate what the plan saves.
    pcm_8k = [ulaw_to_pcm16(frame) for frame in speech_8k]
    bare_once = StreamResampler(8000, 16000)
    up, down = StreamResampler(8000, 24000), StreamResampler(24000, 16000)
    bare_once_cost = time_calls(lambda i: bare_once.process(pcm_8k[i % len(pcm_8k)]), count)
    bare_old_cost = time_calls(lambda i: down.process(up.process(pcm_8k[i % len(pcm_8k)])), count)
    pair_once = cost_once["mean_us"] + cost_out["mean_us"]
    pair_old = cost_old["mean_us"] + cost_out["mean_us"]
    return {
        "inbound_8k_to_16k_once": cost_once,
        "inbound_8k_to_24k_to_16k_before": cost_old,
        "outbound_24k_to_8k_ulaw": cost_out,
        "resample_only_8k_to_16k": bare_once_cost,
        "resample_only_8k_to_24k_to_16k": bare_old_cost,
        "pair_mean_us": round(pair_once, 2),
        "pair_mean_us_before": round(pair_old, 2),
        "calls_per_core": int(FRAME_US / pair_once),
        "calls_per_core_before": int(FRAME_US / pair_old),
    }


def _held_ms(step: Callable[[bytes], float], in_rate_hz: int, frames: int = 500) -> dict[str, Any]:
    """Input ms fed minus output ms produced, after each 20 ms frame, in steady state."""
    frame = pcm16(np.random.default_rng(0).standard_normal(in_rate_hz // 50) * 3000)
    fed = produced = 0.0
    held = []
    for _ in range(frames):
        fed += 20.0
        produced += step(frame)
        held.append(fed - produced)
    steady = held[50:]
    return {"mean_ms": round(statistics.fmean(steady), 2), "max_ms": round(max(steady), 2)}


def bench_latency() -> dict[str, Any]:
    """How much audio each resampler holds back per direction (soxr HQ/VHQ for reference)."""
    result: dict[str, Any] = {}
    for in_hz, out_hz in (
        (8000, 24000),
        (24000, 8000),
        (8000, 16000),
        (24000, 16000),
        (16000, 24000),
    ):
        ours = StreamResampler(in_hz, out_hz)

        def our_step(f: bytes, r: StreamResampler = ours, o: int = out_hz) -> float:
            return len(r.process(f)) / 2 / o * 1000

        key = f"{in_hz // 1000}k_to_{out_hz // 1000}k"
        result[key] = _held_ms(our_step, in_hz)
        result[key]["filter_delay_ms"] = round(ours.delay_ms, 3)
    for quality in ("HQ", "VHQ"):
        for in_hz, out_hz in ((8000, 24000), (24000, 8000)):
            stream = soxr.ResampleStream(in_hz, out_hz, 1, dtype="int16", quality=quality)

            def soxr_step(f: bytes, s: Any = stream, o: int = out_hz) -> float:
                return float(len(s.resample_chunk(np.frombuffer(f, np.int16))) / o * 1000)

            key = f"reference_soxr_{quality}_{in_hz // 1000}k_to_{out_hz // 1000}k"
            result[key] = _held_ms(soxr_step, in_hz)
    return result


def bench_quality() -> dict[str, Any]:
    """Round-trip SNR for a tone, speech and band noise; aliasing of 5 + 7 kHz at 24 → 8 kHz."""
    rate = 24000
    t = np.arange(3 * rate) / rate
    alias_in = 8000 * (np.sin(2 * np.pi * 5000 * t) + np.sin(2 * np.pi * 7000 * t))
    resampler = StreamResampler(24000, 8000)
    pcm = pcm16(alias_in)
    alias_out = np.frombuffer(
        b"".join(resampler.process(pcm[i : i + 960]) for i in range(0, len(pcm), 960)), "<i2"
    ).astype(np.float64)[400:]
    alias_db = 10 * np.log10(np.mean(alias_out**2) / np.mean(alias_in**2) + 1e-20)
    result: dict[str, Any] = {
        f"round_trip_{name}": aligned_snr_db(signal, round_trip(signal))
        for name, signal in quality_signals().items()
    }
    result["aliasing_5k_7k_to_8k_db"] = round(float(alias_db), 1)
    return result


def bench_turn_end() -> dict[str, Any]:
    """At the end of an agent turn, how much of it is still held back after flush()."""
    held_after_flush, padding = [], []
    rng = np.random.default_rng(3)
    chain = OutboundChain()
    for turn in range(20):
        samples = int(rng.integers(24000, 72000))
        pcm = pcm16(rng.standard_normal(samples) * 2000)
        sent = 0
        for i in range(0, len(pcm), 1922):  # provider deltas of odd sizes
            sent += sum(
                len(f) for b in chain.push(f"item{turn}", pcm[i : i + 1922]) for f in b.frames
            )
        sent += sum(len(f) for b in chain.flush() for f in b.frames)
        owed = -(-samples // 3)  # 8 kHz samples the caller should hear
        held_after_flush.append(max(0, owed - sent) / 8)
        padding.append((sent - owed) / 8)
    return {
        "held_after_flush_ms_max": max(held_after_flush),
        "silence_padding_ms_mean": round(statistics.fmean(padding), 2),
        "silence_padding_ms_max": round(max(padding), 2),
    }


def _barge_ins(pcm8k: bytes) -> list[int]:
    chain = InboundChain()
    ulaw = pcm16_to_ulaw(pcm8k)
    found = (chain.process(frame, True).barge_in for frame in ulaw_frames(ulaw))
    return [b.detected_ms for b in found if b is not None]


def bench_barge_in(manifest: dict[str, Any]) -> dict[str, Any]:
    """Onset latency on speech (clean and under -40 dBov noise), false triggers on noise."""
    result: dict[str, Any] = {}
    noises = {
        "clean": None,
        "white_-40dbov": "white_-40dbov_8k.wav",
        "pink_-40dbov": "pink_-40dbov_8k.wav",
    }
    for condition, noise_name in noises.items():
        latencies, missed = [], 0
        for name in SPEECH:
            speech = load(name)
            if noise_name:
                speech = speech + np.resize(load(noise_name), len(speech))
            detected = _barge_ins(pcm16(speech))
            for segment in manifest[name]["segments"]:
                onset, offset = segment["onset_ms"], segment["offset_ms"]
                hits = [ms for ms in detected if onset <= ms <= offset]
                if hits:
                    latencies.append(hits[0] - onset)
                else:
                    missed += 1
        result[f"onset_{condition}"] = {
            "median_ms": statistics.median(latencies),
            "max_ms": max(latencies),
            "phrases": len(latencies),
            "missed": missed,
        }
    for colour, make in (("white", white_noise), ("pink", pink_noise)):
        for level in (-40.0, -30.0):
            noise = make(60.0, 8000, level, 500 + int(-level))
            result[f"false_triggers_per_min_{colour}_{int(level)}dbov"] = len(
                _barge_ins(pcm16(noise))
            )
    for name in ("dtmf_8k.wav", "click_8k.wav"):
        result[f"false_triggers_{name.removesuffix('_8k.wav')}"] = len(
            _barge_ins(pcm16(load(name)))
        )
    return result


def _print_text(report: dict[str, Any]) -> None:
    cost, latency, quality = report["cost"], report["latency"], report["quality"]
    print("== cost per 20 ms frame (µs, best of 7 runs) ==")
    for key in ("inbound_per_frame", "outbound_per_frame", "barge_in_detector_per_frame"):
        print(f"  {key:<38} {_stats(cost[key])}")
    print(f"  inbound + outbound mean               {cost['pair_mean_us']} µs")
    print(f"  calls one core could carry (media)    {cost['calls_per_core']}")
    for key in ("ulaw_passthrough_inbound_per_frame", "ulaw_passthrough_outbound_per_frame"):
        print(f"  {key:<38} {_stats(cost[key])}")
    print(f"  µ-law passthrough pair mean           {cost['ulaw_passthrough_pair_mean_us']} µs")
    ref = cost["reference_soxr_hq_bare_primitives_pair"]
    print(f"  [ref] soxr HQ bare primitives, pair   {_stats(ref)}")
    _print_gemini(report["gemini"])
    print_formats(report["formats"], report["quality"])
    print("== resampler latency: audio held back per direction after each 20 ms frame ==")
    for key, value in latency.items():
        extra = (
            f", filter delay {value['filter_delay_ms']} ms" if "filter_delay_ms" in value else ""
        )
        print(f"  {key:<32} mean {value['mean_ms']} ms, max {value['max_ms']} ms{extra}")
    print("== quality: 24 k -> 8 k µ-law -> 24 k, SNR in 300-3400 Hz after delay alignment ==")
    for key, value in quality.items():
        if isinstance(value, dict):
            print(f"  {key:<34} {value['snr_db']} dB (delay {value['delay_samples']} samples)")
    print(f"  aliasing of 5 + 7 kHz at 24 -> 8 kHz {quality['aliasing_5k_7k_to_8k_db']} dB")
    turn = report["turn_end"]
    print("== end of an agent turn (20 turns, odd-sized deltas, then flush) ==")
    print(
        f"  held back after flush: max {turn['held_after_flush_ms_max']} ms; silence padding "
        f"mean {turn['silence_padding_ms_mean']} ms, max {turn['silence_padding_ms_max']} ms"
    )
    print("== barge-in (InboundChain, agent audible, speech at -26 dBov through µ-law) ==")
    for key, value in report["barge_in"].items():
        if isinstance(value, dict):
            print(
                f"  {key:<26} median {value['median_ms']} ms, max {value['max_ms']} ms "
                f"({value['phrases']} phrases, {value['missed']} missed)"
            )
        else:
            print(f"  {key:<42} {value}")
    print(
        f"== bench took {report['elapsed_s']} s; 1-min load average {report['load_average_1min']}"
        f" on {os.cpu_count()} cores =="
    )


def _print_gemini(gemini: dict[str, Any]) -> None:
    print("== a Gemini call per 20 ms frame (µs, best of 7 runs): 16 kHz in, 24 kHz out ==")
    for key in (
        "inbound_8k_to_16k_once",
        "inbound_8k_to_24k_to_16k_before",
        "outbound_24k_to_8k_ulaw",
        "resample_only_8k_to_16k",
        "resample_only_8k_to_24k_to_16k",
    ):
        print(f"  {key:<38} {_stats(gemini[key])}")
    print(
        f"  inbound + outbound mean               {gemini['pair_mean_us']} µs "
        f"(before: {gemini['pair_mean_us_before']} µs)"
    )
    print(
        f"  calls one core could carry (media)    {gemini['calls_per_core']} "
        f"(before: {gemini['calls_per_core_before']})"
    )


def _stats(value: dict[str, float]) -> str:
    return f"mean {value['mean_us']}  median {value['median_us']}  p99 {value['p99_us']}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    as_json = parser.parse_args().json
    started = time.perf_counter()
    manifest = json.loads((DEFAULT_OUT / "manifest.json").read_text())
    report: dict[str, Any] = {
        "cost": bench_cost(),
        "gemini": bench_gemini_paths(),
        "latency": bench_latency(),
        "quality": bench_quality(),
        "turn_end": bench_turn_end(),
        "barge_in": bench_barge_in(manifest),
        "formats": bench_formats(),
    }
    report["elapsed_s"] = round(time.perf_counter() - started, 1)
    report["load_average_1min"] = round(os.getloadavg()[0], 2)  # the machine is shared
    if as_json:
        print(json.dumps(report))
    else:
        _print_text(report)


if __name__ == "__main__":
    main()
