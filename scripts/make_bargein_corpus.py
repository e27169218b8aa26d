#!/usr/bin/env python3
"""Make the labelled barge-in corpus: what a caller's line carries while the assistant talks.

    .venv/bin/python scripts/make_bargein_corpus.py [--out DIR]   # WAVs + manifest.json

Every clip is 8 kHz, made reproducibly from espeak-ng (on PATH) and numpy with fixed seeds:

- ``interruption``: phrases a caller says to take the turn ("Wait, stop.", "Actually I need to
  change the time.") in three voices at -20 to -32 dBov;
- ``backchannel``: "mm-hmm", "yeah", "okay", "right", "uh-huh", "yes", "sure": not a turn;
- ``noise``: coughs, clicks, breaths, and TV-like babble (several voices talking at once, far
  from the phone);
- ``echo``: the assistant's own speech coming back from a speakerphone, -6 to -20 dB with a 40 to
  200 ms delay, band-limited and with a short room tail. It is made from the agent audio by the
  bench itself, from what the assistant really played (a paused assistant makes no echo).

``agent`` is the assistant's speech played during every case. The bench adds a quiet pink
background and passes the caller's line through µ-law. Labels are the onset (first sample of
the caller's sound) and the class; ``--out`` writes WAVs to listen to, the bench builds the
corpus in memory with ``build_corpus()``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_audio_fixtures import (
    FULL_SCALE,
    ONSET_THRESHOLD,
    Samples,
    _espeak,
    active_level_dbov,
    pink_noise,
    read_wav,
    write_wav,
)

RATE_HZ = 8000
VOICES = ("en-us", "en-us+f3", "en-gb-x-rp+m2")
INTERRUPTIONS = (
    "Wait, stop.",
    "Hold on a second.",
    "No no, I said Tuesday.",
    "Actually I need to change the time.",
    "Sorry to interrupt, can you repeat that?",
    "That is not what I asked for.",
    "Can I speak to a person please?",
)
BACKCHANNELS = ("mm-hmm", "yeah", "okay", "right", "uh-huh", "yes", "sure")
AGENT_TEXT = (
    "Thanks for calling Harbour Bistro. We are open from noon until eleven every day except "
    "Monday, and the kitchen closes at ten. I can book a table for up to eight people, tell "
    "you about tonight's specials, or take a message for the manager. Tonight we have grilled "
    "sea bass with fennel, a mushroom risotto, and a chocolate tart for dessert."
)
BABBLE_TEXTS = (
    "And now the weather for the weekend, with rain moving in from the west on Saturday.",
    "The home team scored twice in the second half to win the match three to one.",
    "Researchers say the new bridge will open to traffic early next spring.",
    "In other news, the city council voted to extend the library opening hours.",
    "Stay with us after the break for an interview with the festival organisers.",
)
LEVELS_DBOV = (-20.0, -26.0, -32.0)


@dataclass(frozen=True, slots=True)
class Clip:
    """One labelled caller sound: ``samples`` at 8 kHz (PCM16 scale), onset at sample 0."""

    name: str
    label: str  # interruption | backchannel | noise | echo
    samples: Samples
    echo_db: float = 0.0  # for echo cases: attenuation of the assistant's voice
    echo_delay_ms: int = 0
    tv: Samples | None = None  # a TV on from before the assistant talks, under the sound
    hiss_dbov: float = -55.0  # the line's own background noise under the whole case


def speech(voice: str, text: str, level_dbov: float, wpm: int | None = None) -> Samples:
    """espeak-ng speech at 8 kHz, trimmed to its first and last audible sample, at a level;
    ``wpm``: words per minute instead of espeak's default (175)."""
    spoken, source_hz = _espeak(voice, text) if wpm is None else _espeak_at(voice, text, wpm)
    clip = soxr.resample(spoken, source_hz, RATE_HZ, quality="VHQ")
    scaled: Samples = clip * 10 ** ((level_dbov - active_level_dbov(clip, RATE_HZ)) / 20)
    return scaled


def _espeak_at(voice: str, text: str, wpm: int) -> tuple[Samples, int]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "speech.wav"
        command = ["espeak-ng", "-v", voice, "-s", str(wpm), "-w", str(path), text]
        subprocess.run(command, check=True)
        samples, rate_hz = read_wav(path)
    voiced = np.nonzero(np.abs(samples) > ONSET_THRESHOLD)[0]
    return samples[voiced[0] : voiced[-1] + 1], rate_hz


def cough(seed: int, level_dbov: float) -> Samples:
    """A cough: one or two noise bursts with a sharp attack, shaped like a glottal burst."""
    rng = np.random.default_rng(seed)
    parts = []
    for _ in range(1 + seed % 2):
        length = int(RATE_HZ * rng.uniform(0.15, 0.3))
        burst = rng.standard_normal(length)
        # the chest's resonance: a band around 400-1500 Hz
        spectrum = np.fft.rfft(burst)
        freqs = np.fft.rfftfreq(length, 1 / RATE_HZ)
        spectrum *= np.exp(-(((freqs - 800) / 600) ** 2))
        burst = np.fft.irfft(spectrum, length)
        envelope = np.exp(-np.arange(length) / (0.06 * RATE_HZ)) * (
            1 - np.exp(-np.arange(length) / (0.004 * RATE_HZ))
        )
        parts += [burst * envelope, np.zeros(int(RATE_HZ * rng.uniform(0.08, 0.15)))]
    return _level(np.concatenate(parts), level_dbov)


def breath(seed: int, level_dbov: float) -> Samples:
    """An inhale into the handset: 300-600 ms of high-passed noise swelling and fading."""
    rng = np.random.default_rng(seed)
    length = int(RATE_HZ * rng.uniform(0.3, 0.6))
    spectrum = np.fft.rfft(rng.standard_normal(length))
    freqs = np.fft.rfftfreq(length, 1 / RATE_HZ)
    spectrum *= np.clip(freqs / 2000, 0, 1)
    envelope = np.sin(np.pi * np.arange(length) / length) ** 2
    return _level(np.fft.irfft(spectrum, length) * envelope, level_dbov)


def clicks(seed: int, level_dbov: float) -> Samples:
    """A handset knocked or a key pressed: three 2-5 ms pops 80-200 ms apart."""
    rng = np.random.default_rng(seed)
    clip = np.zeros(int(0.6 * RATE_HZ))
    for index in range(3):
        start = int(RATE_HZ * (0.01 + 0.18 * index + rng.uniform(0, 0.05)))
        length = int(RATE_HZ * rng.uniform(0.002, 0.005))
        clip[start : start + length] = rng.standard_normal(length) * np.exp(-np.arange(length) / 8)
    peak = FULL_SCALE * 10 ** (level_dbov / 20) * 4
    scaled: Samples = clip / np.max(np.abs(clip)) * peak
    return scaled


def babble(
    seed: int,
    level_dbov: float,
    seconds: float = 3.0,
    voices: tuple[str, ...] = VOICES,
    texts: tuple[str, ...] = BABBLE_TEXTS,
) -> Samples:
    """A TV across the room: voices reading at once (one per text), low-passed, steady level."""
    length = int(seconds * RATE_HZ)
    mix = np.zeros(length)
    for index, text in enumerate(texts):
        voice = voices[(seed + index) % len(voices)]
        talk = speech(voice, text, -26.0)
        start = (seed * 997 + index * 3203) % max(1, len(talk) - length)
        piece = talk[start : start + length]
        mix[: len(piece)] += piece
    spectrum = np.fft.rfft(mix)
    spectrum *= np.exp(-((np.fft.rfftfreq(length, 1 / RATE_HZ) / 2500) ** 2))
    ramp = np.minimum(1.0, np.arange(length) / (0.05 * RATE_HZ))
    return _level(np.fft.irfft(spectrum, length) * ramp, level_dbov)


def echo_response(attenuation_db: float, delay_ms: int) -> Samples:
    """A speakerphone's echo path as an impulse response: ``delay_ms`` late, ``attenuation_db``
    down, band-limited to 300-3400 Hz, with a 60 ms room tail 26 dB under the direct path."""
    taps = 63
    n = np.arange(taps) - taps // 2

    def lowpass(cutoff_hz: float) -> Samples:
        ratio = 2 * cutoff_hz / RATE_HZ
        kernel: Samples = ratio * np.sinc(ratio * n)
        return kernel

    band = (lowpass(3400) - lowpass(300)) * np.hamming(taps)
    rng = np.random.default_rng(int(attenuation_db * 10) + delay_ms)
    tail_length = int(0.06 * RATE_HZ)
    tail = 0.05 * rng.standard_normal(tail_length) * np.exp(-np.arange(tail_length) / 120)
    tail[0] = 1.0
    response = np.convolve(band, tail)
    response *= 10 ** (-attenuation_db / 20) / np.sqrt(np.sum(response**2))
    lead = max(0, delay_ms * RATE_HZ // 1000 - taps // 2)
    delayed: Samples = np.concatenate([np.zeros(lead), response])
    return delayed


def speakerphone(agent: Samples, attenuation_db: float, delay_ms: int) -> Samples:
    """The assistant's voice as a speakerphone returns it (``echo_response``)."""
    echo: Samples = np.convolve(agent, echo_response(attenuation_db, delay_ms))[: len(agent)]
    return echo


def _level(signal: Samples, level_dbov: float) -> Samples:
    scaled: Samples = signal * (FULL_SCALE * 10 ** (level_dbov / 20) / np.sqrt(np.mean(signal**2)))
    return scaled


def agent_speech() -> Samples:
    """The assistant's side: about 20 s of speech at the nominal -26 dBov."""
    return speech("en-us+m3", AGENT_TEXT, -26.0)


def build_corpus(caller_wpm: int | None = None) -> list[Clip]:
    """Every labelled case, in a fixed order; ``caller_wpm``: the caller's speaking rate
    (interruptions and backchannels) instead of espeak's default."""
    clips: list[Clip] = []
    for index, text in enumerate(INTERRUPTIONS):
        for number, voice in enumerate(VOICES):
            level = LEVELS_DBOV[(index + number) % len(LEVELS_DBOV)]
            clips.append(
                Clip(
                    f"{text}/{voice}/{level:g}",
                    "interruption",
                    speech(voice, text, level, caller_wpm),
                )
            )
    for index, text in enumerate(BACKCHANNELS):
        for number, voice in enumerate(VOICES):
            level = LEVELS_DBOV[(index + number) % len(LEVELS_DBOV)]
            clips.append(
                Clip(
                    f"{text}/{voice}/{level:g}",
                    "backchannel",
                    speech(voice, text, level, caller_wpm),
                )
            )
    for seed in range(6):
        level = (-24.0, -30.0, -36.0)[seed % 3]
        clips.append(Clip(f"cough/{seed}/{level:g}", "noise", cough(seed, level)))
        clips.append(Clip(f"breath/{seed}", "noise", breath(100 + seed, -40.0 + 2 * (seed % 3))))
        clips.append(Clip(f"clicks/{seed}", "noise", clicks(200 + seed, -30.0 + 4 * (seed % 3))))
        babble_level = (-36.0, -33.0, -30.0)[seed % 3]
        clips.append(Clip(f"tv/{seed}/{babble_level:g}", "noise", babble(seed, babble_level, 5.0)))
    for seed in range(6):  # speaking up over the TV: 4-10 dB louder than it
        text, voice = INTERRUPTIONS[seed], VOICES[seed % 3]
        tv = babble(seed + 10, (-36.0, -33.0, -30.0)[seed % 3], 6.0)
        phrase = speech(voice, text, -26.0, caller_wpm)
        clip = Clip(f"over-tv/{text}/{voice}", "interruption", phrase, tv=tv)
        clips.append(clip)
    for attenuation in (6.0, 9.0, 12.0, 16.0, 20.0):
        for delay in (40, 80, 120, 160, 200):
            name = f"echo/-{attenuation:g}dB/{delay}ms"
            clips.append(Clip(name, "echo", np.zeros(0), attenuation, delay))
    return clips


def background(seconds: float, seed: int, level_dbov: float = -55.0) -> Samples:
    """The line's own hiss under every case: pink noise (quiet: -55 dBov)."""
    return pink_noise(seconds, RATE_HZ, level_dbov, seed)


def write_corpus(out: Path, clips: list[Clip]) -> None:
    """The clips as WAVs (as the bench plays them) and ``manifest.json`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    manifest: list[dict[str, object]] = []
    write_wav(out / "agent.wav", agent_speech(), RATE_HZ)
    for number, clip in enumerate(clips):
        file_name = f"{number:03d}_{clip.label}.wav"
        if clip.label == "echo":
            clip = Clip(
                clip.name,
                clip.label,
                speakerphone(agent_speech(), clip.echo_db, clip.echo_delay_ms),
            )
        samples, onset_s = clip.samples, 0.0
        if clip.tv is not None:  # the phrase 3 s into the TV, as the bench plays it
            samples, onset_s = np.array(clip.tv), 3.0
            start = int(onset_s * RATE_HZ)
            samples[start : start + len(clip.samples)] += clip.samples[: len(samples) - start]
        write_wav(out / file_name, samples, RATE_HZ)
        entry = {"file": file_name, "name": clip.name, "label": clip.label, "onset_s": onset_s}
        manifest.append(entry)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    write_corpus(parser.parse_args().out, build_corpus())


if __name__ == "__main__":
    main()
