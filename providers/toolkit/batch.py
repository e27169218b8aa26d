"""Caller audio joined into fewer, larger messages on its way to a provider.

A phone call delivers 20 ms frames; each one sent alone costs a JSON message, a WebSocket frame
and a socket write on the gateway's core, and the provider's VAD gains nothing from the finer
grain. ``AudioBatcher`` holds frames until ``batch_ms`` of audio has gathered, so the provider
hears the caller at most ``batch_ms - 20`` ms later (one frame at 40 ms).
"""

from __future__ import annotations

DEFAULT_BATCH_MS = 40
"""Two 20 ms frames per message: half the messages, and 20 ms more on the provider's view of
the caller's speech (a turn ends, or a barge-in is heard, at most one frame later).
``scripts/profile_provider_leg.py`` measured both (see the commit that set it)."""


class AudioBatcher:
    """Chunks in, batches of at least ``batch_bytes`` out, in order; ``take`` empties it."""

    def __init__(self, batch_bytes: int) -> None:
        self._batch_bytes = batch_bytes
        self._parts: list[bytes] = []
        self._size = 0

    def __len__(self) -> int:
        """Bytes held back."""
        return self._size

    def add(self, chunk: bytes) -> bytes | None:
        """The audio to send now (this chunk with what was held), or None while it gathers."""
        if not self._parts:
            if len(chunk) >= self._batch_bytes:
                return chunk  # big enough alone: no copy
            self._parts.append(chunk)
            self._size = len(chunk)
            return None
        self._parts.append(chunk)
        self._size += len(chunk)
        return self.take() if self._size >= self._batch_bytes else None

    def take(self) -> bytes | None:
        """Everything held, as one chunk (None if nothing is); the batcher is empty after."""
        if not self._parts:
            return None
        batch = self._parts[0] if len(self._parts) == 1 else b"".join(self._parts)
        self._parts.clear()
        self._size = 0
        return batch
