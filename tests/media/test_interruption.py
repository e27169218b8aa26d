"""InterruptionPolicy as a table: what the caller's sound over the assistant leads to, and when.

Each case is a list of segments (duration, voiced ms per 20 ms frame, level, echo, agent
audible); the expected decisions are (action, ms after the case's onset).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from kinds.interruption import InterruptionSettings
from media.interruption import InterruptionPolicy


@dataclass(frozen=True)
class Seg:
    ms: int
    voiced: int = 0  # voiced ms per frame
    level: float = -26.0
    echo: bool = False
    audible: bool = True
    onset: bool = False  # the caller's sound of interest starts here (default: first voiced)
    high: float = -100.0  # level of the frame's high band (``high_band_dbov``)


QUIET = Seg(400)


def run(
    segments: list[Seg], settings: InterruptionSettings | None = None, words: str | None = None
) -> list[tuple[str, int]]:
    """Decisions as (action, ms after the first voiced segment began)."""
    policy = InterruptionPolicy(settings)
    position, onset = 0, None
    decisions: list[tuple[str, int]] = []
    for segment in segments:
        if segment.onset or (segment.voiced and onset is None):
            onset = position
        for _ in range(segment.ms // 20):
            position += 20
            if words is not None and policy.state != "idle":
                policy.heard_words(words)  # the transcript streams in right after the onset
                words = None
            decision = policy.step(
                position,
                segment.voiced,
                segment.level,
                echo=segment.echo,
                agent_audible=segment.audible,
                high_dbov=segment.high,
            )
            if decision is not None:
                assert onset is not None
                assert decision.onset_ms == onset
                decisions.append((decision.action, decision.at_ms - onset))
    return decisions


def speech(ms: int, level: float = -26.0) -> Seg:
    return Seg(ms, 20, level)


def tv(ms: int, *, audible: bool = True, high: float = -50.0) -> Seg:
    return Seg(ms, 20, -30.0, audible=audible, high=high)


def voice(ms: int, *, audible: bool = True) -> Seg:
    """A caller at the handset, 4 dB louder than the TV and full band."""
    return Seg(ms, 20, -26.0, audible=audible, high=-34.0)


CASES = {
    # A backchannel ("mm-hmm", 300 ms): pause at the onset, resume once it has ended.
    "backchannel": ([QUIET, speech(300), Seg(600)], None, [("pause", 40), ("resume", 540)]),
    # A turn: the pause becomes a cut once the speech has lasted min_speech_ms.
    "turn": ([QUIET, speech(1500)], None, [("pause", 40), ("cut", 620)]),
    "turn, shorter min_speech_ms": (
        [QUIET, speech(1500)],
        InterruptionSettings(min_speech_ms=300),
        [("pause", 40), ("cut", 300)],
    ),
    # Plain VAD behaviour when the filter is off: the onset cuts.
    "filter off": (
        [QUIET, speech(300)],
        InterruptionSettings(backchannel_filter=False),
        [("cut", 40)],
    ),
    # The assistant's own voice coming back is not the caller.
    "echo": ([QUIET, Seg(2000, 20, -32.0, echo=True)], None, []),
    # Nothing to interrupt when the assistant is silent.
    "agent silent": ([Seg(400, audible=False), Seg(1500, 20, audible=False)], None, []),
    # A click: 5 ms of voice in one frame is no onset.
    "click": ([QUIET, Seg(20, 5), Seg(400)], None, []),
    # A sound already going on (a TV) does not become an interruption midway...
    "ongoing sound": ([Seg(1000, 20, -36.0, audible=False), Seg(2000, 20, -36.0)], None, []),
    # ... unless the caller speaks up well over it.
    "speaking up over it": (
        [
            Seg(1000, 20, -36.0, audible=False),
            Seg(400, 20, -36.0),
            Seg(1000, 20, -24.0, onset=True),
        ],
        None,
        [("pause", 40), ("cut", 620)],
    ),
    # A TV across the room: -30 dBov, its high band muffled (-50); its own brighter moments
    # (+8 dB in the high band) are not a voice at the handset ...
    "TV with bright moments": (
        [tv(1000, audible=False), tv(400)] + [tv(40), tv(40, high=-42.0)] * 10,
        None,
        [],
    ),
    # ... a caller only 4 dB louder than it but full band (high band +16 dB) is, once 80 ms
    # are 3 dB louder than the TV and two frames running have risen ...
    "near voice over the TV": (
        [tv(1000, audible=False), tv(400), Seg(1000, 20, -26.0, onset=True, high=-34.0)],
        None,
        [("pause", 80), ("cut", 620)],
    ),
    # ... unless it is no louder than the TV: a hiss is not a voice.
    "bright but not louder": (
        [tv(1000, audible=False), tv(400), Seg(1000, 20, -29.0, high=-34.0)],
        None,
        [],
    ),
    # A voice that starts while the assistant is silent is the ongoing sound when it talks.
    "near voice before the assistant": (
        [tv(1000, audible=False), voice(400, audible=False), voice(1000)],
        None,
        [],
    ),
    # Speech that fades out at the threshold (a long "okay...") is not cut; the pause holds
    # while it goes on, and it resumes once it has died away.
    "fading": (
        [QUIET, speech(500), Seg(200, 20, -40.0), Seg(400)],
        None,
        [("pause", 40), ("resume", 800)],
    ),
    # A dip between words does not resume the assistant for a moment before the cut: the pause
    # holds while the speech goes on, until min_speech_ms and a syllable more ...
    "a dip, then a turn": (
        [QUIET, speech(400), Seg(300, 20, -40.0), speech(600)],
        None,
        [("pause", 40), ("cut", 720)],
    ),
    # ... and a sound still undecided then resumes, and may still cut the turn later.
    "undecided, then a turn": (
        [QUIET, speech(400), Seg(600, 20, -40.0), speech(600)],
        None,
        [("pause", 40), ("resume", 820), ("cut", 1020)],
    ),
    # A pause between slow words ("Stop, ... stop") is not the end of the speech: the turn is
    # still cut (the pause's bound is up in the gap, so the assistant resumes meanwhile).
    "slow words": (
        [QUIET, speech(300), Seg(240), speech(600)],
        None,
        [("pause", 40), ("resume", 540), ("cut", 620)],
    ),
    # A slower speaker's comma outlasts the end of speech: the second "stop" pauses again and
    # is judged with the first, as one utterance that has gone on long enough to be a turn ...
    "a comma longer than the end gap": (
        [QUIET, speech(360), Seg(360), speech(400), Seg(600)],
        None,
        [("pause", 40), ("resume", 540), ("pause", 760), ("cut", 780)],
    ),
    # ... but a faint sound after a backchannel is judged against the backchannel's peak: it
    # is that word's fading end, not a turn ...
    "a faint sound after a backchannel": (
        [QUIET, speech(300), Seg(300), Seg(60, 20, -45.0), Seg(600)],
        None,
        [("pause", 40), ("resume", 540), ("pause", 640), ("resume", 940)],
    ),
    # ... and two backchannels further apart than a comma are two, neither a turn.
    "two backchannels apart": (
        [QUIET, speech(300), Seg(700), Seg(300, 20, -26.0, onset=True), Seg(600)],
        None,
        [("pause", 40), ("resume", 540), ("pause", 40), ("resume", 540)],
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_policy_table(name: str) -> None:
    segments, settings, expected = CASES[name]
    assert run(segments, settings) == expected


def test_backchannel_words_do_not_cut_and_the_pause_is_bounded() -> None:
    decisions = run([QUIET, speech(1500)], words="mm-hmm yeah")
    assert decisions == [("pause", 40), ("resume", 540)]  # no need to wait: the words said so


def test_min_words_waits_for_enough_words() -> None:
    settings = InterruptionSettings(min_words=3)
    assert run([QUIET, speech(1500)], settings, words="wait") == [("pause", 40), ("resume", 820)]
    assert run([QUIET, speech(1500)], settings, words="wait I need") == [
        ("pause", 40),
        ("cut", 620),
    ]


def test_without_a_transcript_the_audio_decides() -> None:
    assert run([QUIET, speech(1500)], InterruptionSettings(min_words=3)) == [
        ("pause", 40),
        ("cut", 620),
    ]


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        InterruptionSettings(min_speech_ms=50)
    with pytest.raises(ValueError):
        InterruptionSettings(resume_after_false_ms=10_000)


def test_streamed_deltas_add_up() -> None:
    policy = InterruptionPolicy(InterruptionSettings(min_words=3))
    decisions = []
    for index in range(1, 60):
        voiced = 20 if index > 20 else 0
        if index == 24:
            policy.heard_words("wait")
        if index == 30:
            policy.heard_words("I need")
        decision = policy.step(index * 20, voiced, -26.0, echo=False, agent_audible=True)
        if decision is not None:
            decisions.append(decision.action)
    assert decisions == ["pause", "cut"]
