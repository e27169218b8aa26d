"""What an app session has sent, numbered and held back for a resume (docs/protocol.md, §2).

``seq`` belongs to the session, not to one socket: a client that reconnects with
``lastSeq=n`` gets every message after ``n`` again, once, in order. Agent audio and the other
messages are held in two lanes with their own byte caps, so a long answer nobody hears (the
socket is gone) can only push out older *audio*: the transcript, turn and error messages of the
same stretch stay. A resume that needs dropped audio is refused unless it skips audio; one
that needs a dropped non-audio message is refused outright (``ReplayGap``).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from heapq import merge

from gateway.api.sequence import MessageSequence

TEXT_BUFFER_BYTES = 256 * 1024
"""Non-audio messages held: thousands of transcript deltas, far more than a grace period makes."""


class ReplayGap(Exception):
    """The messages after ``lastSeq`` are no longer all held; ``audio_only``: only audio is
    missing, so a resume that skips audio would still be exact."""

    def __init__(self, message: str, *, audio_only: bool) -> None:
        super().__init__(message)
        self.audio_only = audio_only


@dataclass(frozen=True, slots=True)
class _Held:
    seq: int
    text: str


class _Lane:
    """Stamped messages of one kind, oldest first, within a byte cap."""

    def __init__(self, cap_bytes: int) -> None:
        self._cap = cap_bytes
        self._held: deque[_Held] = deque()
        self._bytes = 0
        self.dropped_through = 0
        """The highest ``seq`` of this lane no longer held (0: none dropped)."""

    def add(self, seq: int, text: str) -> None:
        self._held.append(_Held(seq, text))
        self._bytes += len(text)
        while self._bytes > self._cap and self._held:
            oldest = self._held.popleft()
            self._bytes -= len(oldest.text)
            self.dropped_through = oldest.seq

    def after(self, seq: int) -> list[_Held]:
        """Held messages with a number above ``seq`` (the newest are at the right)."""
        picked: list[_Held] = []
        for held in reversed(self._held):
            if held.seq <= seq:
                break
            picked.append(held)
        picked.reverse()
        return picked

    def clear(self, through: int) -> None:
        self._held.clear()
        self._bytes = 0
        self.dropped_through = max(self.dropped_through, through)

    @property
    def size_bytes(self) -> int:
        return self._bytes


class ReplayBuffer:
    """Numbers a session's server messages and keeps the recent ones for a resume."""

    def __init__(self, sequence: MessageSequence, *, audio_bytes: int) -> None:
        self._sequence = sequence
        self._text = _Lane(TEXT_BUFFER_BYTES)
        self._audio = _Lane(audio_bytes)

    @property
    def last_seq(self) -> int:
        return self._sequence.last_seq

    @property
    def size_bytes(self) -> int:
        return self._text.size_bytes + self._audio.size_bytes

    def add(self, encoded: str, *, audio: bool) -> str:
        """``encoded`` stamped with the next ``seq``, held for a resume."""
        stamped = self._sequence.stamp(encoded)
        (self._audio if audio else self._text).add(self._sequence.last_seq, stamped)
        return stamped

    def since(self, last_seq: int, *, audio: bool) -> list[str]:
        """Every held message after ``last_seq``, in order (without agent audio if ``audio``
        is False). Raises ``ValueError`` for a number never sent and ``ReplayGap`` when a
        message it needs is no longer held."""
        if not 0 <= last_seq <= self.last_seq:
            raise ValueError(f"lastSeq must be between 0 and {self.last_seq}")
        if last_seq < self._text.dropped_through:
            raise ReplayGap(
                "messages after lastSeq are no longer held (the session went on too long "
                "without a connection)",
                audio_only=False,
            )
        if audio and last_seq < self._audio.dropped_through:
            raise ReplayGap(
                "agent audio after lastSeq is no longer held (the replay buffer is full): "
                "resume with replayAudio=false",
                audio_only=True,
            )
        texts = self._text.after(last_seq)
        if not audio:
            return [held.text for held in texts]
        both = merge(texts, self._audio.after(last_seq), key=lambda held: held.seq)
        return [held.text for held in both]

    def skip_audio(self) -> None:
        """The client resumed without the audio it missed: that audio is never wanted again
        (a later resume from an earlier number must skip it too)."""
        self._audio.clear(self.last_seq)
