#!/usr/bin/env python3
"""The held-out barge-in corpus: the same classes as ``make_bargein_corpus``, none of its sounds.

    .venv/bin/python scripts/make_bargein_heldout.py --out DIR [--seed 20]   # WAVs + manifest

The interruption policy's thresholds were chosen on the training corpus; this one checks that
they hold beyond it. Every case draws, from a seeded generator (same seed, same corpus):

- other espeak-ng voices (accents and variants the training set never uses), speaking rates
  from 130 to 200 words per minute, levels from -34 to -18 dBov, and other phrases;
- other noise: coughs, breaths and clicks from other seeds and levels, TV babble read by other
  voices from other texts at -38 to -28 dBov, and a line hiss from -60 to -42 dBov per case;
- interruptions over that TV, 3 to 10 dB louder than it;
- echo paths at attenuations and delays between the training grid's.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_audio_fixtures import Samples
from make_bargein_corpus import (
    Clip,
    babble,
    breath,
    clicks,
    cough,
    speech,
    write_corpus,
)

DEFAULT_SEED = 20
VOICES = (
    "en-gb-scotland",
    "en-029+f2",
    "en-us-nyc+m4",
    "en-gb-x-gbclan+f4",
    "en-gb-x-gbcwmd+m6",
    "en-us+f5",
)
INTERRUPTIONS = (
    "Stop, stop.",
    "Excuse me, one question.",
    "No, that is wrong.",
    "Just a moment please.",
    "I already told you my name.",
    "Could you slow down a bit?",
    "Let me talk to someone else.",
    "Wait, which day was that?",
)
BACKCHANNELS = ("mhm", "uh huh", "okay", "yep", "I see", "got it", "right", "yeah", "oh okay")
BABBLE_TEXTS = (
    "Traffic is heavy on the northbound motorway after an accident near junction four.",
    "The orchestra opens its season with a programme of Brahms and Dvorak on Friday.",
    "Shares in the airline rose sharply after it reported record summer bookings.",
    "Tomorrow will be dry and bright with light winds and highs of nineteen degrees.",
)
RENDITIONS = 3  # of each phrase: voice, rate and level drawn afresh


def build_heldout(seed: int = DEFAULT_SEED) -> list[Clip]:
    """Every held-out case, in a fixed order for a given ``seed``."""
    rng = np.random.default_rng(seed)

    def hiss() -> float:
        return float(rng.uniform(-60.0, -42.0))

    def spoken(text: str, level_dbov: float | None = None) -> tuple[Samples, str]:
        voice = str(rng.choice(VOICES))
        wpm = int(rng.integers(130, 201))
        level = float(rng.uniform(-34.0, -18.0)) if level_dbov is None else level_dbov
        return speech(voice, text, level, wpm), f"{voice}/{wpm}wpm/{level:.0f}"

    clips: list[Clip] = []
    for label, texts in (("interruption", INTERRUPTIONS), ("backchannel", BACKCHANNELS)):
        for text in texts:
            for _ in range(RENDITIONS):
                samples, how = spoken(text)
                clips.append(Clip(f"{text}/{how}", label, samples, hiss_dbov=hiss()))
    for number in range(6):
        noise_seed = 1000 + number
        level = float(rng.uniform(-38.0, -22.0))
        clips.append(
            Clip(f"cough/{noise_seed}", "noise", cough(noise_seed, level), hiss_dbov=hiss())
        )
        level = float(rng.uniform(-42.0, -34.0))
        clips.append(
            Clip(f"breath/{noise_seed}", "noise", breath(noise_seed, level), hiss_dbov=hiss())
        )
        level = float(rng.uniform(-32.0, -22.0))
        clips.append(
            Clip(f"clicks/{noise_seed}", "noise", clicks(noise_seed, level), hiss_dbov=hiss())
        )
        tv_level = float(rng.uniform(-38.0, -28.0))
        tv = babble(noise_seed, tv_level, 5.0, VOICES, BABBLE_TEXTS)
        clips.append(Clip(f"tv/{noise_seed}/{tv_level:.0f}", "noise", tv, hiss_dbov=hiss()))
    for number in range(8):  # speaking up over the TV
        tv_level = float(rng.uniform(-38.0, -28.0))
        tv = babble(2000 + number, tv_level, 6.0, VOICES, BABBLE_TEXTS)
        text = INTERRUPTIONS[number]
        phrase, how = spoken(text, tv_level + float(rng.uniform(3.0, 10.0)))
        clips.append(Clip(f"over-tv/{text}/{how}", "interruption", phrase, tv=tv, hiss_dbov=hiss()))
    for attenuation in (7.0, 10.0, 14.0, 18.0):
        for delay in (60, 100, 140, 180):
            name = f"echo/-{attenuation:g}dB/{delay}ms"
            clips.append(Clip(name, "echo", np.zeros(0), attenuation, delay, hiss_dbov=hiss()))
    return clips


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args()
    write_corpus(args.out, build_heldout(args.seed))


if __name__ == "__main__":
    main()
