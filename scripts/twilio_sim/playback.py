"""Twilio's outbound player, simulated on the call clock (protocols.md §1.5).

Audio the gateway sends is queued and plays at 8000 bytes per second, after whatever is already
queued. A ``mark`` is echoed when all audio queued before it has played (at once if nothing is
queued), in send order. ``clear`` drops the queued audio and echoes every pending mark at once,
so each mark is echoed exactly once. Pure and synchronous: the socket code asks it what is due.
"""

from __future__ import annotations

from collections import deque

from .audio import RATE_HZ, SILENCE_BYTE


class Playback:
    """The queue of agent audio and marks of one call; optionally records what was heard.

    The recording is on the call timeline (silence where the agent was silent), and audio
    dropped by ``clear`` before it played is cut from it, so it is what the caller heard.
    """

    def __init__(self, record_max_s: float | None = None) -> None:
        self._end_s = 0.0  # call time when the queued audio finishes playing
        self._marks: deque[tuple[float, str]] = deque()  # (due call time, name), due ascending
        self._record_max_bytes = int((record_max_s or 0) * RATE_HZ)
        self._recording = bytearray() if record_max_s else None
        self.received_bytes = 0
        self.cleared_bytes = 0

    def queued_s(self, now_s: float) -> float:
        """Seconds of agent audio still to play."""
        return max(0.0, self._end_s - now_s)

    def push_audio(self, now_s: float, n_bytes: int, ulaw: bytes | None = None) -> None:
        """Queue ``n_bytes`` of µ-law (``ulaw`` itself only when recording)."""
        start_s = max(now_s, self._end_s)
        self._end_s = start_s + n_bytes / RATE_HZ
        self.received_bytes += n_bytes
        rec = self._recording
        if rec is None or ulaw is None or len(rec) + len(ulaw) > self._record_max_bytes:
            return
        start_byte = int(start_s * RATE_HZ)
        if len(rec) < start_byte:
            rec += SILENCE_BYTE * (start_byte - len(rec))
        rec += ulaw

    def push_mark(self, now_s: float, name: str) -> list[str]:
        """Queue a mark behind the audio; returns the marks due now (this one if nothing plays)."""
        self._marks.append((self._end_s, name))
        return self.due_marks(now_s)

    def due_marks(self, now_s: float) -> list[str]:
        """Marks whose audio has played by ``now_s``, oldest first; they leave the queue."""
        due: list[str] = []
        while self._marks and self._marks[0][0] <= now_s:
            due.append(self._marks.popleft()[1])
        return due

    def next_due_s(self) -> float | None:
        return self._marks[0][0] if self._marks else None

    def clear(self, now_s: float) -> list[str]:
        """Drop the audio not yet played; every pending mark, to be echoed now."""
        self.cleared_bytes += int(self.queued_s(now_s) * RATE_HZ)
        self._end_s = min(self._end_s, now_s)
        if self._recording is not None:
            del self._recording[int(now_s * RATE_HZ) :]
        names = [name for _, name in self._marks]
        self._marks.clear()
        return names

    def recording(self) -> bytes:
        """The agent's audio as heard, from call time 0 (µ-law, 8 kHz)."""
        return bytes(self._recording or b"")
