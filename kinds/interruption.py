"""How an assistant lets the caller interrupt it: the per-assistant barge-in policy's settings."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["InterruptionSettings"]


@dataclass(frozen=True, slots=True)
class InterruptionSettings:
    """When the caller's speech over the assistant is a turn, and what happens if it is not.

    At the caller's speech onset the assistant's audio pauses at once; the turn is cut only
    when the speech lasts ``min_speech_ms`` (mostly voiced, still going) and, when the provider
    streams the caller's words, brings ``min_words`` of them. Anything shorter (a backchannel
    such as "mm-hmm", a cough, a click) lets the assistant go on where it paused, at the latest
    ``resume_after_false_ms`` after the pause (speech still going then gets until
    ``min_speech_ms`` and 200 ms more to prove itself, so the assistant does not resume for a
    moment just before the cut). ``backchannel_filter=False`` cuts the turn at
    the onset, as a plain VAD would.
    """

    # Past the longest backchannels of slow speakers ("okay", "mhm" at 130-150 words a minute
    # last up to ~650 ms with their fading tail), while a turn's first words are still going.
    min_speech_ms: int = 620
    min_words: int | None = None
    backchannel_filter: bool = True
    resume_after_false_ms: int = 500

    def __post_init__(self) -> None:
        if not 100 <= self.min_speech_ms <= 3000:
            raise ValueError("min_speech_ms must be 100-3000")
        if self.min_words is not None and not 1 <= self.min_words <= 20:
            raise ValueError("min_words must be 1-20")
        if not 100 <= self.resume_after_false_ms <= 5000:
            raise ValueError("resume_after_false_ms must be 100-5000")
