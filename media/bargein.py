"""Barge-in: decide that the caller is talking over the agent, and since when.

The caller's frames go through a ``VoiceActivityDetector``; a confirmed speech onset while the
agent's audio is audible is a barge-in. The VAD's minimum voiced duration keeps clicks and short
noises from interrupting, its tone gate keeps DTMF digits out, and the reported start is where
the speech began in the caller's stream, not when it was confirmed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from media.vad import SpeechStarted, VadConfig, VadEvent, VoiceActivityDetector

__all__ = ["BargeIn", "BargeInDetector"]


@dataclass(frozen=True, slots=True)
class BargeIn:
    """The caller started speaking at ``speech_start_ms`` over audible agent audio.

    ``detected_ms`` is when that was confirmed; both are caller-stream times in milliseconds.
    """

    speech_start_ms: int
    detected_ms: int
    kind: Literal["barge_in"] = "barge_in"


class BargeInDetector:
    """Watches the caller's frames while the agent speaks (one detector per call)."""

    def __init__(self, config: VadConfig | None = None) -> None:
        self.vad = VoiceActivityDetector(config)
        self.vad_event: VadEvent | None = None
        """The VAD event of the last frame, so callers need not run a second VAD."""

    def process_frame(self, frame: bytes, agent_audible: bool) -> BargeIn | None:
        """Feed one caller frame and whether agent audio is playing to the caller right now.

        Only an onset confirmed while the agent is audible counts: if the caller was already
        speaking when the agent started, the agent is the one talking over (no barge-in).
        """
        event = self.vad_event = self.vad.process_frame(frame)
        if agent_audible and isinstance(event, SpeechStarted):
            return BargeIn(event.start_ms, event.detected_ms)
        return None
