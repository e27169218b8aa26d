"""Caller audio held back: while a session has no connection (sent, in order, once a new one
is up), or as a pre-roll kept before a turn is known to have begun.

Bounded in bytes with the oldest audio dropped first: a caller who keeps talking through a long
outage loses the start of what they said, never the end, and memory per call stays bounded.
"""

from __future__ import annotations

from collections import deque


class AudioBacklog:
    """Chunks of audio in order, at most ``max_bytes`` of them; ``dropped_bytes`` counts losses."""

    def __init__(self, max_bytes: int) -> None:
        self._chunks: deque[bytes] = deque()
        self._size = 0
        self._max_bytes = max(0, max_bytes)
        self.dropped_bytes = 0

    def __len__(self) -> int:
        """Chunks held (a backlog is true while it holds any)."""
        return len(self._chunks)

    @property
    def size_bytes(self) -> int:
        return self._size

    def append(self, chunk: bytes) -> None:
        """Hold ``chunk`` after the others, dropping the oldest beyond ``max_bytes``."""
        self._chunks.append(chunk)
        self._size += len(chunk)
        while self._size > self._max_bytes and self._chunks:
            oldest = self._chunks.popleft()
            self._size -= len(oldest)
            self.dropped_bytes += len(oldest)

    def appendleft(self, chunk: bytes) -> None:
        """Put back a chunk that could not be sent: it stays first in line (never dropped)."""
        self._chunks.appendleft(chunk)
        self._size += len(chunk)

    def popleft(self) -> bytes:
        chunk = self._chunks.popleft()
        self._size -= len(chunk)
        return chunk

    def drain(self) -> list[bytes]:
        """Every chunk, oldest first; the backlog is empty afterwards."""
        chunks = list(self._chunks)
        self.clear()
        return chunks

    def drain_last(self, max_bytes: int) -> list[bytes]:
        """The newest ``max_bytes`` of audio (the oldest chunk of them cut at its front), oldest
        first; the backlog is empty afterwards. Keep ``max_bytes`` a whole number of samples."""
        taken: list[bytes] = []
        wanted = max(0, max_bytes)
        while wanted > 0 and self._chunks:
            chunk = self._chunks.pop()
            if len(chunk) > wanted:
                chunk = chunk[len(chunk) - wanted :]
            taken.append(chunk)
            wanted -= len(chunk)
        self.clear()
        taken.reverse()
        return taken

    def clear(self) -> None:
        self._chunks.clear()
        self._size = 0
