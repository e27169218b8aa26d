#!/usr/bin/env python3
"""Barge-in on a labelled corpus: interruptions, backchannels, noise and echo, policy vs plain VAD.

    .venv/bin/python scripts/bench_bargein.py [--json] [--set train|heldout|both] [--seed 20]

Two corpora, reported separately: *train* (``make_bargein_corpus``, which the thresholds were
chosen on) and *held-out* (``make_bargein_heldout``: other voices, rates, levels, phrases and
noise, drawn from ``--seed``), which says whether they hold beyond it.

Every case of ``make_bargein_corpus.build_corpus()`` is played frame by frame as a call: the
assistant talks (its speech at -26 dBov), the caller's line carries a -55 dBov hiss plus the
case's sound (or, for echo cases, the assistant's own voice returned by a speakerphone from what
it really played), through µ-law, into an ``InboundChain``. Two chains hear the same line:

- *policy*: what calls run: noise suppression, the echo guard and the interruption policy
  (default ``InterruptionSettings``). A pause stops the assistant (the bridge clears the carrier
  and keeps what was not heard); a resume plays on from where it paused; a cut ends its turn.
- *plain VAD*: the chain before this policy: any confirmed onset over the agent cuts the turn.

"Caller hears the stop" is the pause (or cut) after the caller's onset: the bridge clears the
carrier's buffer then, so the assistant falls silent one network hop later (not modelled).
Costs are wall-clock per 20 ms frame, best of seven runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_signals import Samples, pcm16, time_calls  # noqa: E402
from make_bargein_corpus import (  # noqa: E402
    RATE_HZ,
    Clip,
    agent_speech,
    background,
    build_corpus,
    echo_response,
)
from make_bargein_heldout import DEFAULT_SEED, build_heldout  # noqa: E402

from kinds.audio import PCMU_8K  # noqa: E402
from kinds.interruption import InterruptionSettings  # noqa: E402
from media.chains import InboundChain  # noqa: E402
from media.denoise import NoiseSuppressor  # noqa: E402
from media.echo import EchoGuard  # noqa: E402
from media.g711 import pcm16_to_ulaw  # noqa: E402

FRAME = RATE_HZ // 50  # samples per 20 ms
TAIL_MS = 1500  # listened after each case's sound
TV_LEAD_MS = 2000  # the TV is on before the assistant starts talking


@dataclass
class Outcome:
    """What one chain did in one case (times in ms of the case's timeline)."""

    onset_ms: int
    first_stop_ms: int | None = None  # first pause or cut at or after the onset
    cut_ms: int | None = None
    pauses: list[int] = field(default_factory=list)  # lengths of pauses that resumed


@dataclass
class Agent:
    """The assistant's playout in the simulation: plays on, pauses, resumes, or is cut."""

    speech: Samples
    start_frame: int
    position: int = 0
    paused_at: int | None = None
    cut: bool = False

    def frame(self, index: int) -> Samples:
        if self.cut or self.paused_at is not None or index < self.start_frame:
            return np.zeros(FRAME)
        start = self.position % (len(self.speech) - FRAME)
        self.position += FRAME
        return self.speech[start : start + FRAME]

    def audible(self, index: int) -> bool:
        return not self.cut and self.paused_at is None and index >= self.start_frame


def _layout(clip: Clip, number: int) -> tuple[Samples, int, int, Samples | None]:
    """The caller's sound on the case timeline, its onset (ms), agent start frame, echo path."""
    if clip.label == "echo":
        return np.zeros(8 * RATE_HZ), 0, 0, echo_response(clip.echo_db, clip.echo_delay_ms)
    if clip.tv is not None:  # the TV from the start, the assistant from 2 s, the caller at 3 s
        onset_ms = TV_LEAD_MS + 1000
        line = np.array(clip.tv)
        start = onset_ms * RATE_HZ // 1000
        line[start : start + len(clip.samples)] += clip.samples[: len(line) - start]
        return line, onset_ms, TV_LEAD_MS // 20, None
    if clip.name.startswith("tv/"):
        lead = np.zeros(0)
        onset_ms, agent_frame = 0, TV_LEAD_MS // 20
    else:
        onset_ms = 1000 + (number * 370) % 1500
        lead = np.zeros(onset_ms * RATE_HZ // 1000)
        agent_frame = 0
    line = np.concatenate([lead, clip.samples, np.zeros(TAIL_MS * RATE_HZ // 1000)])
    return line, onset_ms, agent_frame, None


def run_case(clip: Clip, number: int, speech: Samples, policy: bool) -> Outcome:
    """Play one case through one chain; return what it did."""
    sound, onset_ms, agent_frame, echo_path = _layout(clip, number)
    frames = len(sound) // FRAME
    hiss = background(frames * FRAME / RATE_HZ, number + 1000, clip.hiss_dbov)
    hiss = np.pad(hiss, (0, frames * FRAME - len(hiss)))  # a sample short when seconds round down
    line = sound[: frames * FRAME] + hiss
    chain = (
        InboundChain(PCMU_8K, PCMU_8K, noise_suppression=True, interruption=InterruptionSettings())
        if policy
        else InboundChain(PCMU_8K, PCMU_8K)
    )
    agent = Agent(speech, agent_frame)
    taps = 0 if echo_path is None else len(echo_path) - 1
    played = np.zeros(taps + frames * FRAME)
    outcome = Outcome(onset_ms)
    for index in range(frames):
        out = agent.frame(index)
        played[taps + index * FRAME : taps + (index + 1) * FRAME] = out
        audible = agent.audible(index)
        if audible:
            chain.agent_played(pcm16_to_ulaw(pcm16(out)))
        caller = line[index * FRAME : (index + 1) * FRAME]
        if echo_path is not None:
            segment = played[index * FRAME : index * FRAME + taps + FRAME]
            caller = caller + np.convolve(segment, echo_path, mode="valid")
        result = chain.process(pcm16_to_ulaw(pcm16(caller)), audible)
        now_ms = (index + 1) * 20
        action = "cut" if result.barge_in is not None and not policy else None
        if result.decision is not None:
            action = result.decision.action
        _apply(action, now_ms, index, agent, chain, outcome)
    return outcome


def _apply(
    action: str | None, now_ms: int, index: int, agent: Agent, chain: InboundChain, out: Outcome
) -> None:
    if action is None:
        return
    if action in ("pause", "cut") and out.first_stop_ms is None and now_ms >= out.onset_ms:
        out.first_stop_ms = now_ms
    if action == "pause":
        agent.paused_at = index
        chain.agent_cleared()
    elif action == "resume" and agent.paused_at is not None:
        out.pauses.append((index - agent.paused_at) * 20)
        agent.paused_at = None
    elif action == "cut":
        out.cut_ms = out.cut_ms or now_ms
        agent.cut = True
        chain.agent_cleared()


def bench_corpus(corpus: list[Clip]) -> dict[str, Any]:
    speech = agent_speech()
    report: dict[str, Any] = {}
    for name, policy in (("policy", True), ("plain_vad", False)):
        outcomes: dict[str, list[Outcome]] = {}
        for number, clip in enumerate(corpus):
            group = _group(clip)
            outcomes.setdefault(group, []).append(run_case(clip, number, speech, policy))
        report[name] = {group: _summary(found) for group, found in outcomes.items()}
    return report


def _group(clip: Clip) -> str:
    if clip.label == "noise":
        return "tv_babble" if clip.name.startswith("tv/") else "coughs_clicks_breaths"
    return "interruption_over_tv" if clip.tv is not None else clip.label


def _summary(outcomes: list[Outcome]) -> dict[str, Any]:
    cuts = [o for o in outcomes if o.cut_ms is not None]
    stops = [o.first_stop_ms - o.onset_ms for o in outcomes if o.first_stop_ms is not None]
    cut_latency = [o.cut_ms - o.onset_ms for o in cuts if o.cut_ms is not None]
    pauses = [length for o in outcomes for length in o.pauses]
    return {
        "cases": len(outcomes),
        "cut_percent": round(100 * len(cuts) / len(outcomes), 1),
        "stop_ms": _stats(stops),
        "cut_ms": _stats(cut_latency),
        "false_pauses": len(pauses),
        "pause_ms": _stats(pauses),
    }


def _stats(values: list[int]) -> dict[str, float] | None:
    if not values:
        return None
    return {"median": statistics.median(values), "max": max(values)}


def bench_costs() -> dict[str, Any]:
    speech = agent_speech()
    frames = [pcm16(speech[i : i + FRAME]) for i in range(0, len(speech) - FRAME, FRAME)]
    ulaw = [pcm16_to_ulaw(frame) for frame in frames]
    count = 5 * len(frames)
    denoiser = NoiseSuppressor()
    guard = EchoGuard()
    for frame in frames[:50]:
        guard.played(frame)
        guard.advance(frame)

    def echo_check(i: int) -> None:
        guard.played(frames[i % len(frames)])
        guard.advance(frames[(i + 7) % len(frames)])
        guard.is_echo()

    echo_guard = EchoGuard()  # the caller's line carries the agent's voice 80 ms late
    for frame in frames[:50]:
        echo_guard.played(frame)
        echo_guard.advance(frame)

    def echo_present(i: int) -> None:
        now = (i + 50) % len(echo_frames)  # the reference and its echo on one timeline
        echo_guard.played(frames[now])
        echo_guard.advance(echo_frames[now])
        echo_guard.is_echo()

    delayed = np.concatenate([np.zeros(640), speech[: len(speech) - 640]]) * 0.5
    echo_frames = [pcm16(delayed[i : i + FRAME]) for i in range(0, len(delayed) - FRAME, FRAME)]
    hiss = [pcm16_to_ulaw(pcm16(background(0.02, seed))) for seed in range(50)]
    quiet_caller = InboundChain(
        PCMU_8K, PCMU_8K, noise_suppression=True, interruption=InterruptionSettings()
    )

    def agent_talks(i: int) -> object:
        quiet_caller.agent_played(ulaw[i % len(ulaw)])
        return quiet_caller.process(hiss[i % len(hiss)], True)

    full = InboundChain(
        PCMU_8K, PCMU_8K, noise_suppression=True, interruption=InterruptionSettings()
    )
    plain = InboundChain(PCMU_8K, PCMU_8K)

    def chain_step(chain: InboundChain) -> Callable[[int], object]:
        def step(i: int) -> object:
            chain.agent_played(ulaw[(i + 3) % len(ulaw)])
            return chain.process(ulaw[i % len(ulaw)], True)

        return step

    return {
        "noise_suppression_per_frame": time_calls(
            lambda i: denoiser.process(frames[i % len(frames)]), count
        ),
        "echo_guard_full_search_per_frame": time_calls(echo_check, count),
        "echo_guard_on_echo_per_frame": time_calls(echo_present, count),
        "inbound_chain_policy_caller_quiet": time_calls(agent_talks, count),
        "inbound_chain_policy_double_talk": time_calls(chain_step(full), count),
        "inbound_chain_plain_per_frame": time_calls(chain_step(plain), count),
    }


def _print(report: dict[str, Any]) -> None:
    for name, corpus in report["corpora"].items():
        _print_corpus(name, corpus)
    print("== cost per 20 ms frame (µs, best of 7 runs) ==")
    for key, value in report["costs"].items():
        mean, median, p99 = value["mean_us"], value["median_us"], value["p99_us"]
        print(f"  {key:<36} mean {mean}  median {median}  p99 {p99}")


def _print_corpus(name: str, corpus: dict[str, Any]) -> None:
    policy, plain = corpus["policy"], corpus["plain_vad"]
    print(f"== {name} corpus through µ-law, agent talking: policy (defaults) vs plain VAD ==")
    for group in ("interruption", "interruption_over_tv"):
        ours, theirs = policy[group], plain[group]
        print(
            f"  true barge-in recall {group:<22} ({ours['cases']:>2} cases) "
            f"policy {ours['cut_percent']:>5} %   plain VAD {theirs['cut_percent']:>5} %"
        )
        for key, what in (("stop_ms", "caller hears the stop"), ("cut_ms", "turn cut")):
            print(f"    {what:<22} after onset: policy {_ms(ours[key])}")
            print(f"    {what:<22} after onset: plain VAD {_ms(theirs[key])}")
    for group in ("backchannel", "coughs_clicks_breaths", "tv_babble", "echo"):
        ours, theirs = policy[group], plain[group]
        print(
            f"  false barge-in (turn cut) {group:<22} ({ours['cases']:>2} cases) "
            f"policy {ours['cut_percent']:>5} %   plain VAD {theirs['cut_percent']:>5} %"
        )
        print(f"    pauses that resumed: {ours['false_pauses']}, {_ms(ours['pause_ms'])}")


def _ms(stats: dict[str, float] | None) -> str:
    if stats is None:
        return "n/a"
    return f"median {stats['median']:g} ms, max {stats['max']:g} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--caller-wpm",
        type=int,
        help="the caller's speaking rate (espeak's default is 175): a corpus not tuned on",
    )
    parser.add_argument("--set", choices=("train", "heldout", "both"), default="both")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="of the held-out corpus")
    parser.add_argument("--no-costs", action="store_true", help="skip the per-frame timings")
    args = parser.parse_args()
    corpora: dict[str, Any] = {}
    if args.set in ("train", "both"):
        corpora["train"] = bench_corpus(build_corpus(args.caller_wpm))
    if args.set in ("heldout", "both"):
        corpora[f"held-out (seed {args.seed})"] = bench_corpus(build_heldout(args.seed))
    report = {"corpora": corpora, "costs": {} if args.no_costs else bench_costs()}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print(report)


if __name__ == "__main__":
    main()
