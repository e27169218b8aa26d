"""The interruption policy: pause the assistant at the caller's onset, cut the turn only for a turn.

Deciding between "mm-hmm" and "wait, stop" takes a few hundred ms of audio, so what the caller
hears and what the conversation decides are separated. Per caller frame the policy sees how much
of it was voiced (the VAD), whether the echo guard explained it as the assistant's own voice, and
whether the assistant is audible; it answers with at most one decision:

- ``pause`` at a speech onset over the assistant: stop its audio at once, keep what was not heard.
  An onset comes from quiet, or over a sound already going on (a TV) when the caller's voice
  rises well over it in level or, being near the handset, in its high band;
- ``cut`` once the speech proves to be a turn: it has gone on for ``min_speech_ms``, mostly
  voiced and still going, and (when the provider streamed the caller's words) brought
  ``min_words`` words that are not all backchannels;
- ``resume`` when it proves not to be one (the sound ended first: a backchannel, a cough, a
  click) or has not proved itself ``resume_after_false_ms`` after the pause (speech still going
  then gets until ``min_speech_ms`` and a syllable more). Speech still going after such a resume
  may still cut the turn, without pausing again; speech that comes back within a comma's pause
  ("Stop, ... stop.") pauses again and is judged with what came before, as one utterance.

Pure and synchronous: no clock but the caller stream's own position; one policy per call.
"""

from __future__ import annotations

import math
import re
from collections import deque
from dataclasses import dataclass
from typing import Literal

import numpy as np

from kinds.interruption import InterruptionSettings

__all__ = ["BACKCHANNEL_WORDS", "InterruptionDecision", "InterruptionPolicy", "high_band_dbov"]

_FULL_SCALE_POWER = 32768.0**2
_SECOND_DIFFERENCE = np.array([1.0, -2.0, 1.0])

# Speech starts when this much voiced audio falls within the onset window (as the VAD's onset).
_ONSET_VOICED_MS = 30
_ONSET_WINDOW_FRAMES = 3
# ... after this much quiet: a sound that has been going on (a TV, a talk in the room, the
# caller already speaking when the agent started) does not become an interruption midway.
_ONSET_QUIET_FRAMES = 10
# ... or, over such a sound, this much louder than its running level: the caller speaking up
# over the TV. The running level follows the ongoing sound's voiced frames: slowly (~0.5 s)
# over the assistant, so a voice rising over it stands out, and faster (~0.2 s) while the
# assistant is silent and nothing is decided, so a sound that began then is known when it talks.
_ONSET_OVER_ONGOING_DB = 9.0
_ONGOING_SMOOTHING = 0.04
_ONGOING_SMOOTHING_SILENT = 0.1
# ... or a near voice over it. Walls, furnishings and distance take the high frequencies of a
# sound across the room (a TV, people talking), while a caller at the handset is heard full
# band: over the last 80 ms the high band (``high_band_dbov``) rose this far over the ongoing
# sound's, and the whole band at least _ONSET_NEAR_LOUDER_DB (not just a hiss), in two frames
# running. A caller only 3-4 dB louder than the TV rarely rises 9 dB in level, but rises 10 dB
# in the high band within a syllable; the babble's own sibilants stay under that over 80 ms.
_ONSET_NEAR_BRIGHTER_DB = 10.0
_ONSET_NEAR_LOUDER_DB = 3.0
_ONSET_NEAR_FRAMES = 4
_ONSET_NEAR_RUN = 2
# The speech has ended after this long unvoiced: longer than a stop consonant's closure and the
# pause at a comma of a slow speaker (up to ~250 ms at 130 words a minute: "Stop, stop."),
# shorter than the pause after a backchannel.
_END_GAP_MS = 280
# Speech that comes back within this long of its end goes on the same utterance (its onset
# and voiced time carried over): the pause at a comma of a slow speaker ("Stop, ... stop.")
# outlasts _END_GAP_MS, so each half alone is as short as a backchannel, but together they
# are a turn. Longer than that comma (~350 ms at 130 words a minute, after a stop's fading
# tail), shorter than the gap a caller leaves before starting another thought.
_CONTINUE_GAP_MS = 500
_NO_UTTERANCE = (-(10**9), 0, 0, -100.0)
# A turn is mostly voiced over its span (words with short gaps between them), and still going.
_TURN_VOICED_FRACTION = 0.5
_TURN_RECENT_MS = 80
# ... and not fading: a backchannel's last syllable dies away, a sentence's middle does not.
# Judged on the loudest of the last 60 ms: a dip between two syllables is shorter than that.
_TURN_FADE_DB = 10.0
_TURN_FADE_FRAMES = 3
# A pause whose ``resume_after_false_ms`` is up while the speech is still going holds until it
# has had ``min_speech_ms`` and this much more (a syllable) to prove a turn: resuming for a
# moment just before the cut would play the assistant in a blip.
_DECIDE_GRACE_MS = 200
BACKCHANNEL_WORDS = frozenset(
    {
        "mm", "mmm", "hmm", "mhm", "mm-hmm", "uh-huh", "uh", "huh", "um", "yeah", "yep", "yes",
        "ok", "okay", "right", "sure", "alright", "aha", "ah", "oh", "i", "see", "got", "it",
    }
)  # fmt: skip
_WORD = re.compile(r"[a-z]+(?:[-'][a-z]+)*")

Action = Literal["pause", "resume", "cut"]
State = Literal["idle", "paused", "watching"]


@dataclass(frozen=True, slots=True)
class InterruptionDecision:
    """What to do with the assistant's audio, decided at caller-stream time ``at_ms`` for the
    caller sound that began at ``onset_ms``."""

    action: Action
    onset_ms: int
    at_ms: int


class InterruptionPolicy:
    """Decides, frame by frame, whether the caller's sound over the assistant is a turn."""

    def __init__(self, settings: InterruptionSettings | None = None, frame_ms: int = 20) -> None:
        self.settings = settings or InterruptionSettings()
        self.frame_ms = frame_ms
        history = _ONSET_WINDOW_FRAMES + _ONSET_QUIET_FRAMES
        self._window: deque[int] = deque([0] * history, history)
        self._levels: deque[float] = deque([-100.0] * 2, 2)
        self._recent: deque[float] = deque([-100.0] * _TURN_FADE_FRAMES, _TURN_FADE_FRAMES)
        # (level, high band) powers of the last frames: the rise is judged on the newest
        # _ONSET_NEAR_FRAMES, the onset found in all of them
        self._near: deque[tuple[float, float]] = deque([(0.0, 0.0)] * history, history)
        self._peak_dbov = self._peak_high_dbov = -100.0
        self._ongoing_dbov = self._ongoing_high_dbov = -100.0
        self._near_run = 0  # frames running that ``_rising_near``
        self._quiet_frames = history  # frames running without the caller's speech
        self.state: State = "idle"
        self._onset_ms = self._paused_at_ms = self._last_voiced_ms = 0
        # the last utterance that ended without being a turn: end, onset, voiced ms, peak
        self._ended = _NO_UTTERANCE
        self._voiced_ms = 0
        self._words: int | None = None
        self._backchannel_only = False
        self._transcript = ""

    @property
    def paused(self) -> bool:
        """Whether the assistant's audio is paused waiting for a decision."""
        return self.state == "paused"

    def step(
        self,
        position_ms: int,
        voiced_ms: int,
        level_dbov: float,
        *,
        echo: bool,
        agent_audible: bool,
        high_dbov: float = -100.0,
    ) -> InterruptionDecision | None:
        """One caller frame ending at ``position_ms``: ``voiced_ms`` of it voiced (VAD) at
        ``level_dbov`` (``high_dbov`` in its high band), ``echo`` if that voice is the
        assistant's own, ``agent_audible`` if its audio is playing."""
        speech_ms = 0 if echo else voiced_ms
        self._window.append(speech_ms)
        self._levels.append(level_dbov if speech_ms else -100.0)
        self._recent.append(level_dbov if speech_ms else -100.0)
        self._near.append((_power(level_dbov), _power(high_dbov)) if speech_ms else (0.0, 0.0))
        self._quiet_frames = 0 if speech_ms else self._quiet_frames + 1
        # Most frames of a call are quiet: with no speech in the rise window nothing can have
        # risen (the ongoing levels never fall under -100 dBov), so skip summing it.
        rising = self._quiet_frames < _ONSET_NEAR_FRAMES and self._rising_near()
        self._near_run = self._near_run + 1 if rising else 0
        if self.state == "idle":
            decision = self._idle(position_ms, speech_ms, agent_audible)
            if speech_ms and decision is None:
                self._follow_ongoing(level_dbov, high_dbov, agent_audible)
            return decision
        if speech_ms:
            self._voiced_ms += speech_ms
            self._last_voiced_ms = position_ms
            self._peak_dbov = max(self._peak_dbov, level_dbov)
            self._peak_high_dbov = max(self._peak_high_dbov, high_dbov)
        if position_ms - self._last_voiced_ms >= _END_GAP_MS:
            was_paused = self.paused
            self._ended = (self._last_voiced_ms, self._onset_ms, self._voiced_ms, self._peak_dbov)
            self._reset()
            return self._decide("resume", position_ms) if was_paused else None
        if self._is_turn(position_ms):
            decision = self._decide("cut", position_ms)
            self._ended = _NO_UTTERANCE
            self._reset()
            return decision
        bound_ms = self.settings.resume_after_false_ms
        if self.paused and position_ms - self._paused_at_ms >= bound_ms:
            if self._deciding(position_ms):
                return None
            self.state = "watching"
            return self._decide("resume", position_ms)
        return None

    def _deciding(self, position_ms: int) -> bool:
        """Speech still going that has not yet had its chance to prove a turn: the pause holds
        until ``min_speech_ms`` and a syllable more, rather than resume just before a cut."""
        if self._backchannel_only:  # the words already said it is not a turn
            return False
        going = position_ms - self._last_voiced_ms <= _TURN_RECENT_MS
        return (
            going and position_ms - self._onset_ms < self.settings.min_speech_ms + _DECIDE_GRACE_MS
        )

    def heard_words(self, delta: str) -> None:
        """More of the provider's streamed transcript of the caller (a delta) during the sound."""
        if self.state == "idle":
            return
        self._transcript += " " + delta
        words = _WORD.findall(self._transcript.lower())
        self._words = len(words)
        self._backchannel_only = bool(words) and all(w in BACKCHANNEL_WORDS for w in words)

    def _idle(
        self, position_ms: int, speech_ms: int, agent_audible: bool
    ) -> InterruptionDecision | None:
        if not (agent_audible and speech_ms):
            return None
        recent = list(self._window)[-_ONSET_WINDOW_FRAMES:]
        if sum(recent) < _ONSET_VOICED_MS:
            return None
        first = next(i for i, ms in enumerate(self._window) if ms)
        if first < _ONSET_QUIET_FRAMES:  # the sound did not start from quiet: a voice over it?
            louder = min(self._levels) >= self._ongoing_dbov + _ONSET_OVER_ONGOING_DB
            if not (louder or self._near_run >= _ONSET_NEAR_RUN):
                return None
            first = len(self._window) - (len(self._levels) if louder else self._near_age())
        self._onset_ms = position_ms - (len(self._window) - first) * self.frame_ms
        if not self.settings.backchannel_filter:
            self._peak_dbov = max(self._levels)
            self._peak_high_dbov = _dbov(max(high for _, high in list(self._near)[-2:]))
            decision = self._decide("cut", position_ms)
            self._reset()
            return decision
        self.state = "paused"
        self._paused_at_ms = self._last_voiced_ms = position_ms
        self._voiced_ms = sum(recent)
        self._peak_dbov = max(self._levels)
        ended_ms, ended_onset_ms, ended_voiced_ms, ended_peak_dbov = self._ended
        if self._onset_ms - ended_ms <= _CONTINUE_GAP_MS:  # the same utterance, going on
            self._onset_ms = ended_onset_ms
            self._voiced_ms += ended_voiced_ms
            # a faint sound after a word is not that word going on: judged against its peak
            self._peak_dbov = max(self._peak_dbov, ended_peak_dbov)
        self._peak_high_dbov = _dbov(max(high for _, high in list(self._near)[-2:]))
        self._words, self._backchannel_only, self._transcript = None, False, ""
        return self._decide("pause", position_ms)

    def _follow_ongoing(self, level_dbov: float, high_dbov: float, agent_audible: bool) -> None:
        """Move the ongoing sound's levels towards this voiced frame's; over the assistant, a
        voice rising over the sound does not move them."""
        if agent_audible and self._near_run:
            return
        smoothing = _ONGOING_SMOOTHING if agent_audible else _ONGOING_SMOOTHING_SILENT
        self._ongoing_dbov += smoothing * (level_dbov - self._ongoing_dbov)
        self._ongoing_high_dbov += smoothing * (high_dbov - self._ongoing_high_dbov)

    def _near_age(self) -> int:
        """Frames since the bright run ending now began (frames brighter than the ongoing
        sound by the margin), at least the rise window's."""
        threshold = _power(self._ongoing_high_dbov + _ONSET_NEAR_BRIGHTER_DB)
        age = 0
        for _, high in reversed(self._near):
            if high < threshold:
                break
            age += 1
        return max(1, min(age, len(self._near)))

    def _rising_near(self) -> bool:
        """Over the last 80 ms the sound rose in its high band well over the ongoing sound."""
        recent = list(self._near)[-_ONSET_NEAR_FRAMES:]
        level = _dbov(sum(full for full, _ in recent) / _ONSET_NEAR_FRAMES)
        high = _dbov(sum(high for _, high in recent) / _ONSET_NEAR_FRAMES)
        return (
            high >= self._ongoing_high_dbov + _ONSET_NEAR_BRIGHTER_DB
            and level >= self._ongoing_dbov + _ONSET_NEAR_LOUDER_DB
        )

    def _is_turn(self, position_ms: int) -> bool:
        span_ms = position_ms - self._onset_ms
        if span_ms < self.settings.min_speech_ms:
            return False
        if self._voiced_ms < _TURN_VOICED_FRACTION * span_ms:
            return False
        if position_ms - self._last_voiced_ms > _TURN_RECENT_MS:
            return False
        if max(self._recent) < self._peak_dbov - _TURN_FADE_DB:
            return False
        if self._words is None:  # no transcript streamed: the audio decides
            return True
        if self._backchannel_only:
            return False
        return self.settings.min_words is None or self._words >= self.settings.min_words

    def _decide(self, action: Action, position_ms: int) -> InterruptionDecision:
        return InterruptionDecision(action, self._onset_ms, position_ms)

    def _reset(self) -> None:
        self.state = "idle"
        self._window.extend([0] * _ONSET_WINDOW_FRAMES)
        # a sound still going on after the decision is the running sound, not a new onset
        self._ongoing_dbov = max(self._ongoing_dbov, self._peak_dbov)
        self._ongoing_high_dbov = max(self._ongoing_high_dbov, self._peak_high_dbov)
        self._voiced_ms, self._peak_dbov, self._peak_high_dbov = 0, -100.0, -100.0
        self._words, self._backchannel_only = None, False


def high_band_dbov(frame: bytes) -> float:
    """Level of a PCM16 frame's high band: its second difference, which weighs 3 kHz 15 dB over
    1 kHz and 500 Hz 27 dB under it (a near voice's brightness, without an FFT)."""
    samples = np.frombuffer(frame, dtype=np.int16).astype(np.float64)
    if len(samples) < 3:
        return -100.0
    # One convolution instead of three array operations (numpy's per-call cost dominates a
    # frame's 160 samples); whole numbers all the way, so exactly the same sums.
    curvature = np.convolve(samples, _SECOND_DIFFERENCE, "valid")
    return _dbov(float(np.dot(curvature, curvature)) / len(curvature) / _FULL_SCALE_POWER)


def _power(level_dbov: float) -> float:
    return 10 ** (level_dbov / 10) if level_dbov > -100.0 else 0.0


def _dbov(power: float) -> float:
    return 10 * math.log10(power) if power > 1e-10 else -100.0
