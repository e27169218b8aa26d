"""scripts/fuzz.py: its targets hold on their seeds and on random bytes (no atheris needed),
and, where atheris is installed, a two-second run of one target finds nothing."""

from __future__ import annotations

import importlib.util
import random

import pytest

from scripts import fuzz
from scripts.fuzz_targets import TARGETS


def test_every_target_has_seeds_and_a_name_on_the_command_line() -> None:
    assert set(TARGETS) == set(fuzz.TARGET_NAMES) == set(fuzz.SEEDS)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_targets_hold_on_their_seeds_and_on_random_bytes(name: str) -> None:
    rng = random.Random(name)
    for seed in fuzz.SEEDS[name]:
        TARGETS[name](seed)
        for _ in range(200):  # a crude mutation: the seed with a few bytes changed
            data = bytearray(seed)
            for _ in range(rng.randint(1, 4)):
                if data:
                    data[rng.randrange(len(data))] = rng.randrange(256)
            TARGETS[name](bytes(data))
    for _ in range(200):
        TARGETS[name](rng.randbytes(rng.randint(0, 300)))


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("atheris") is None, reason="atheris not installed")
def test_a_short_atheris_run_finds_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    assert fuzz.main(["--target", "app-socket", "--seconds", "2"]) == 0
    assert "app-socket: no finding" in capsys.readouterr().out
