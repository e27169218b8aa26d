#!/usr/bin/env python3
"""What skipping the denoiser on digital silence does to the provider's input and to the VAD.

    .venv/bin/python scripts/bench_denoise_gaps.py

``NoiseSuppressor`` skips a long run of frames of exact zeros (after ``--after`` frames). Two
caller lines go through the inbound chain (µ-law, noise suppression, the interruption policy)
twice, skipping and feeding every frame, and the script prints how many frames skipped, how far
apart the two outputs are (the audio the provider receives) and whether the VAD's events are
the same (both lists when not):

- *load test*: the load test's caller (a speech fixture with exact-zero pauses, then 3 s of
  digital silence, looped), no noise: the two outputs should be near alike;
- *DTX line*: speech over -45 dBov hiss whose line drops to digital silence for 3 s between
  phrases (a muted phone, silence suppression).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_signals import Samples, load, pcm16  # noqa: E402
from make_bargein_corpus import background  # noqa: E402

from kinds.audio import PCMU_8K  # noqa: E402
from kinds.interruption import InterruptionSettings  # noqa: E402
from media.chains import InboundChain  # noqa: E402
from media.denoise import SKIP_SILENCE_AFTER_FRAMES, NoiseSuppressor  # noqa: E402
from media.g711 import pcm16_to_ulaw, ulaw_to_pcm16  # noqa: E402

RATE_HZ = 8000
FRAME = RATE_HZ // 50


def loadtest_line() -> Samples:
    speech = load("speech_a_8k.wav")
    return np.tile(np.concatenate([speech, np.zeros(3 * RATE_HZ)]), 3)


def dtx_line() -> Samples:
    """Speech phrases over hiss, the line zeroed for 3 s between them."""
    speech = load("speech_b_8k.wav")
    hiss = background(len(speech) / RATE_HZ + 1, 11, -45.0)[: len(speech)]
    parts: list[Samples] = []
    step = 2 * RATE_HZ
    for start in range(0, len(speech) - step + 1, step):
        parts.append(speech[start : start + step] + hiss[start : start + step])
        parts.append(np.zeros(3 * RATE_HZ))
    return np.concatenate(parts)


def run(line: Samples, skip: int | None) -> tuple[bytes, list[tuple[str, int]], int]:
    """The provider's input, the VAD's events and the frames the denoiser skipped."""
    chain = InboundChain(
        PCMU_8K, PCMU_8K, noise_suppression=True, interruption=InterruptionSettings()
    )
    chain.denoiser = NoiseSuppressor(skip_silence_after=skip)
    native = chain.denoiser._ns  # count the frames that reach speex
    calls = [0]

    class Counting:
        def process(self, frame: bytes) -> bytes:
            calls[0] += 1
            out: bytes = native.process(frame)
            return out

    chain.denoiser._ns = Counting()
    out, events = bytearray(), list[tuple[str, int]]()
    frames = len(line) // FRAME
    for index in range(frames):
        ulaw = pcm16_to_ulaw(pcm16(line[index * FRAME : (index + 1) * FRAME]))
        result = chain.process(ulaw, False)
        out += result.audio
        if result.vad_event is not None:
            event = result.vad_event
            at = event.start_ms if event.kind == "speech_started" else event.end_ms
            events.append((event.kind, at))
    return bytes(out), events, frames - calls[0]


def _dbov(samples: Samples) -> float:
    power = float(np.mean(samples * samples)) if len(samples) else 0.0
    return 10 * np.log10(power / 32768.0**2) if power > 0 else -100.0


def compare(line: Samples, after: int) -> dict[str, Any]:
    fed, fed_events, _ = run(line, None)
    skipped, skip_events, count = run(line, after)
    a = _pcm(fed)
    b = _pcm(skipped)
    diff = a - b
    report: dict[str, Any] = {
        "frames": len(line) // FRAME,
        "skipped": count,
        "difference_dbov": round(_dbov(diff), 1),
        "signal_dbov": round(_dbov(a), 1),
        "max_abs_difference": int(np.abs(diff).max()),
        "vad_events_same": fed_events == skip_events,
        "vad_events": len(fed_events),
    }
    if not report["vad_events_same"]:
        report["vad_fed"], report["vad_skip"] = fed_events, skip_events
    return report


def _pcm(ulaw: bytes) -> Samples:
    return np.frombuffer(ulaw_to_pcm16(ulaw), "<i2").astype(np.float64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--after", type=int, default=SKIP_SILENCE_AFTER_FRAMES)
    args = parser.parse_args()
    for name, report in (
        ("load test caller", compare(loadtest_line(), args.after)),
        ("DTX line, -45 dBov hiss", compare(dtx_line(), args.after)),
    ):
        print(f"== {name}: skipping zeros after {args.after} frames vs feeding speex all ==")
        for key, value in report.items():
            print(f"  {key:<24} {value}")


if __name__ == "__main__":
    main()
