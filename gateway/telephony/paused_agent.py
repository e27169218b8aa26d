"""What a call keeps of the assistant's audio so that a paused assistant loses no words.

The interruption policy pauses the assistant at the caller's speech onset: the bridge clears
the carrier's buffer at once, so the caller hears the stop, and keeps what was not heard. If the
sound proves not to be a turn (a backchannel, a cough) the assistant resumes from the played
position the carrier's marks confirmed, re-sending the audio cut there and what the provider
sent during the pause. ``SentAudio`` remembers the current item's audio from its last confirmed
position; ``PausedAgent`` holds everything owed to the caller while paused.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["HeldItem", "PausedAgent", "SentAudio"]


class SentAudio:
    """The carrier-format audio of the item being played, from its last confirmed position."""

    def __init__(self, bytes_per_ms: int) -> None:
        self._bytes_per_ms = bytes_per_ms
        self.item_id: str | None = None
        self._start_ms = 0  # item time of the first byte kept
        self._audio = bytearray()

    def restart(self, item_id: str, start_ms: int) -> None:
        """``item_id`` plays on from ``start_ms`` (a new item starts at 0)."""
        self.item_id, self._start_ms = item_id, start_ms
        self._audio.clear()

    def sent(self, item_id: str, frame: bytes) -> None:
        """A frame of ``item_id`` went to the carrier (the last one of an item may be padded)."""
        if item_id != self.item_id:
            self.restart(item_id, 0)
        self._audio += frame

    def played(self, item_id: str, played_ms: int) -> None:
        """The carrier confirmed ``played_ms`` of ``item_id``: forget the audio before it."""
        if item_id != self.item_id or played_ms <= self._start_ms:
            return
        del self._audio[: (played_ms - self._start_ms) * self._bytes_per_ms]
        self._start_ms = played_ms

    def since(self, item_id: str, played_ms: int) -> bytes:
        """The item's audio from ``played_ms`` on (what the caller did not hear)."""
        if item_id != self.item_id:
            return b""
        skip = max(0, played_ms - self._start_ms) * self._bytes_per_ms
        return bytes(self._audio[skip:])


@dataclass(slots=True)
class HeldItem:
    """One item's audio owed to the caller: from ``start_ms`` of the item on."""

    item_id: str
    start_ms: int
    audio: bytearray


@dataclass(slots=True)
class PausedAgent:
    """The assistant, paused at the caller's onset: what it still has to say, in order."""

    items: list[HeldItem] = field(default_factory=list)
    turn_complete: bool = False
    """The provider finished its turn during the pause: flush after resuming."""

    @classmethod
    def at(cls, item_id: str, heard_ms: int, unheard: bytes) -> PausedAgent:
        """Paused in ``item_id`` after ``heard_ms`` of it, ``unheard`` cut from the carrier."""
        return cls([HeldItem(item_id, heard_ms, bytearray(unheard))])

    @property
    def item_id(self) -> str:
        """The item the caller was hearing when the pause began."""
        return self.items[0].item_id

    @property
    def heard_ms(self) -> int:
        """How much of that item the caller heard."""
        return self.items[0].start_ms

    def hold(self, item_id: str, audio: bytes) -> None:
        """Agent audio that came in during the pause (carrier format)."""
        if self.items[-1].item_id != item_id:
            self.items.append(HeldItem(item_id, 0, bytearray()))
        self.items[-1].audio += audio
