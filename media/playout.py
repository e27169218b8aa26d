"""Playout tracking: exact 20 ms carrier frames, a mark per chunk, and what was heard.

Agent audio, already in the carrier's format, is cut into 20 ms frames (160 bytes of G.711,
320/640/960 of L16 at 8/16/24 kHz); after each pushed chunk (and at least every
``mark_interval_ms``) the tracker names a mark tied to the item and the item's audio end time.
The carrier echoes a mark when playback reaches it, so the echoed marks are the played position;
on ``clear`` (barge-in) they say how much of each item the caller really heard, never guessed
from the wall clock. A frame never mixes two items: a new item pads the previous one's last
partial frame with the format's silence first, and the padding is not counted as heard audio.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal

from kinds.audio import PCMU_8K, AudioFormat
from media.formats import silence_byte

__all__ = ["FRAME_MS", "PlayoutBatch", "PlayoutMark", "PlayoutTracker"]

FRAME_MS = 20
# A mark at least every 100 ms bounds how much heard audio a barge-in can under-count, for
# 10 small mark messages a second each way.
_MARK_INTERVAL_MS = 100


@dataclass(frozen=True, slots=True)
class PlayoutMark:
    """A named point in the outgoing stream: ``audio_end_ms`` of ``item_id`` precede it."""

    name: str
    item_id: str
    audio_end_ms: int


@dataclass(frozen=True, slots=True)
class PlayoutBatch:
    """Frames to send to the carrier in order, then ``mark`` to send right after them."""

    frames: tuple[bytes, ...]
    mark: PlayoutMark
    kind: Literal["playout_batch"] = "playout_batch"


class PlayoutTracker:
    """Frames agent audio for one call and tracks what the caller has heard of each item."""

    def __init__(
        self, mark_interval_ms: int = _MARK_INTERVAL_MS, audio: AudioFormat = PCMU_8K
    ) -> None:
        if mark_interval_ms < FRAME_MS:
            raise ValueError("mark_interval_ms must be at least one frame")
        self._frames_per_mark = mark_interval_ms // FRAME_MS
        self._bytes_per_ms = audio.bytes_per_ms
        self.frame_bytes = FRAME_MS * audio.bytes_per_ms
        """Bytes of one 20 ms frame in the carrier's format (160 for G.711)."""
        self._silence = bytes([silence_byte(audio)])
        self._pending = bytearray()  # the current item's partial frame
        self._item_id: str | None = None
        self._item_bytes = 0  # real (unpadded) bytes of the current item framed so far
        self._outstanding: deque[PlayoutMark] = deque()  # sent, not yet echoed
        self._outstanding_names: set[str] = set()
        self._played_ms: dict[str, int] = {}
        self._sequence = 0

    @property
    def audible(self) -> bool:
        """Whether sent agent audio may still be playing (marks not yet echoed)."""
        return bool(self._outstanding)

    @property
    def queued_ms(self) -> int:
        """Agent audio sent or held but not yet confirmed played, in ms (padding excluded)."""
        total = len(self._pending) // self._bytes_per_ms
        if not self._outstanding:
            return total
        previous = dict(self._played_ms)  # each mark covers audio since the item's last mark
        for mark in self._outstanding:
            total += mark.audio_end_ms - previous.get(mark.item_id, 0)
            previous[mark.item_id] = mark.audio_end_ms
        return total

    def played_ms(self, item_id: str) -> int:
        """How much of ``item_id`` the carrier has confirmed playing, in ms."""
        return self._played_ms.get(item_id, 0)

    def push(self, item_id: str, audio: bytes) -> list[PlayoutBatch]:
        """Add agent audio of ``item_id`` in the carrier's format; return the whole frames
        ready, with marks."""
        if item_id != self._item_id:
            batches = self.flush() if self._pending else []
            self._item_id, self._item_bytes = item_id, 0
            return batches + self.push(item_id, audio)
        size = self.frame_bytes
        if not self._pending and len(audio) == size:  # the common case: one carrier frame
            return self._batches([audio], size)
        batches = []
        self._pending += audio
        whole = len(self._pending) - len(self._pending) % size
        if whole:
            pending = self._pending
            frames = [bytes(pending[i : i + size]) for i in range(0, whole, size)]
            del pending[:whole]
            batches += self._batches(frames, whole)
        return batches

    def resume(self, item_id: str, start_ms: int, audio: bytes) -> list[PlayoutBatch]:
        """Play ``item_id`` on from ``start_ms`` (after a ``clear``): ``audio`` is the item's
        audio from there, and marks go on counting the item's own time."""
        batches = self.flush() if self._pending else []
        self._item_id, self._item_bytes = item_id, start_ms * self._bytes_per_ms
        self._played_ms[item_id] = start_ms
        return batches + self.push(item_id, audio)

    def flush(self) -> list[PlayoutBatch]:
        """End of a turn: pad the partial frame with silence and send it, so nothing waits."""
        if not self._pending or self._item_id is None:
            return []
        real_bytes = len(self._pending)
        frame = bytes(self._pending) + self._silence * (self.frame_bytes - real_bytes)
        self._pending.clear()
        return self._batches([frame], real_bytes)

    def on_mark(self, name: str) -> PlayoutMark | None:
        """The carrier echoed ``name``: everything before it has played. Unknown names: None."""
        if name not in self._outstanding_names:
            return None
        while True:
            mark = self._outstanding.popleft()
            self._outstanding_names.discard(mark.name)
            self._played_ms[mark.item_id] = mark.audio_end_ms
            if mark.name == name:
                return mark

    def clear(self) -> dict[str, int]:
        """The carrier dropped its buffer: return ms heard of each item that was cut, and reset."""
        cut = [mark.item_id for mark in self._outstanding]
        if self._pending and self._item_id is not None:
            cut.append(self._item_id)
        heard = {item_id: self._played_ms.get(item_id, 0) for item_id in dict.fromkeys(cut)}
        self._outstanding.clear()
        self._outstanding_names.clear()
        self._pending.clear()
        self._played_ms.clear()
        self._item_id, self._item_bytes = None, 0
        return heard

    def _batches(self, frames: list[bytes], real_bytes: int) -> list[PlayoutBatch]:
        """Group frames under marks, at most ``mark_interval_ms`` of audio per mark.

        ``real_bytes`` is the item audio in ``frames``; only the last frame may be padding.
        """
        assert self._item_id is not None
        batches = []
        end_of_item = self._item_bytes + real_bytes
        step, size, per_ms = self._frames_per_mark, self.frame_bytes, self._bytes_per_ms
        for start in range(0, len(frames), step):
            group = tuple(frames[start : start + step])
            end_bytes = min(self._item_bytes + size * len(group), end_of_item)
            self._item_bytes = end_bytes
            self._sequence += 1
            mark = PlayoutMark(
                f"{self._item_id}/{end_bytes // per_ms}/{self._sequence}",
                self._item_id,
                end_bytes // per_ms,
            )
            self._outstanding.append(mark)
            self._outstanding_names.add(mark.name)
            batches.append(PlayoutBatch(group, mark))
        return batches
