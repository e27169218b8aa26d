#!/usr/bin/env python3
"""The VAD's side path on wideband carriers, before and after ``media.decimate``.

    .venv/bin/python scripts/bench_decimate.py [--rounds 5]

Per 20 ms frame, µs of CPU: the 24 → 8 kHz and 16 → 8 kHz step alone (``StreamResampler``
against ``Decimator``), and the whole inbound chain of an L16 call whose provider speaks the
carrier's format (Vonage L16 at 16 kHz, SignalWire L16 at 24 kHz) with each, beside µ-law's.
Each figure is the median over ``--rounds`` rounds of each round's median over the speech
fixture; the machine is shared, so read the before/after pairs, taken side by side, rather
than the absolute numbers. It also checks, on the speech fixture, that both paths give the VAD
the same samples (within 1 LSB).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_signals import load, pcm16  # noqa: E402

from kinds.audio import PCM16_8K, PCM16_16K, PCM16_24K, PCMU_8K, AudioFormat  # noqa: E402
from media.chains import InboundChain, _filter_delay_silence  # noqa: E402
from media.decimate import Decimator  # noqa: E402
from media.formats import convert  # noqa: E402
from media.resample import StreamResampler  # noqa: E402


def _frames(fmt: AudioFormat) -> list[bytes]:
    audio = convert(pcm16(load("speech_a_24k.wav")), PCM16_24K, fmt)
    size = 20 * fmt.bytes_per_ms
    return [audio[i : i + size] for i in range(0, len(audio) - size + 1, size)]


def _median_us(call: Callable[[bytes], object], frames: list[bytes]) -> float:
    times = []
    for frame in frames:
        start = time.perf_counter_ns()
        call(frame)
        times.append((time.perf_counter_ns() - start) / 1000)
    return statistics.median(times)


def _old_vad_path(chain: InboundChain, rate_hz: int) -> InboundChain:
    """``chain`` with the VAD fed through ``StreamResampler`` again (the path before)."""
    resampler = StreamResampler(rate_hz, chain.barge_in.vad.config.sample_rate_hz)
    chain._to_vad = resampler
    chain._pending = _filter_delay_silence(resampler)
    return chain


def _feed(chain: InboundChain) -> Callable[[bytes], object]:
    def feed(frame: bytes) -> object:
        return chain.process(frame, False)

    return feed


def _cases() -> dict[str, tuple[Callable[[bytes], object], list[bytes]]]:
    cases: dict[str, tuple[Callable[[bytes], object], list[bytes]]] = {}
    for fmt in (PCM16_24K, PCM16_16K):
        rate, frames = fmt.sample_rate_hz, _frames(fmt)
        label = f"l16_{rate // 1000}k"
        cases[f"{label}_to_8k_before"] = (StreamResampler(rate, 8000).process, frames)
        cases[f"{label}_to_8k_after"] = (Decimator(rate, 8000).process, frames)
        old = _old_vad_path(InboundChain(fmt, fmt), rate)
        cases[f"{label}_inbound_chain_before"] = (_feed(old), frames)
        cases[f"{label}_inbound_chain_after"] = (_feed(InboundChain(fmt, fmt)), frames)
    cases["ulaw_8k_inbound_chain"] = (_feed(InboundChain(PCMU_8K, PCMU_8K)), _frames(PCMU_8K))
    return cases


def _same_samples() -> int:
    """The largest difference between what each path hands the VAD (PCM16 steps)."""
    audio = pcm16(load("speech_a_24k.wav"))
    old = StreamResampler(24000, 8000)
    before = np.frombuffer(_filter_delay_silence(old) + old.process(audio), np.int16)
    after = np.frombuffer(Decimator(24000, 8000).process(audio), np.int16)
    count = min(len(before), len(after))
    return int(np.abs(before[:count].astype(int) - after[:count].astype(int)).max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    cases = _cases()
    figures: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.rounds):  # interleaved, so load on the machine hits both sides alike
        for name, (call, frames) in cases.items():
            figures[name].append(_median_us(call, frames))
    print(f"== VAD side path, µs per 20 ms frame (median of {args.rounds} rounds' medians) ==")
    for name, values in figures.items():
        spread = f"{min(values):.2f}-{max(values):.2f}"
        print(f"  {name:<34} {statistics.median(values):6.2f}   (rounds {spread})")
    print(f"  largest difference in what the VAD hears (24 kHz speech): {_same_samples()} LSB")
    assert PCM16_8K.sample_rate_hz == 8000  # the VAD's rate these figures assume


if __name__ == "__main__":
    main()
