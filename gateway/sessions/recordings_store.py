"""Where recordings live: a small interface, a local directory (``KURA_RECORDINGS_DIR``) or an
S3-compatible bucket (``gateway.sessions.recordings_s3``) behind it.

The writer always writes a local file (``spool_path``); ``stored`` then makes it the session's
recording (a no-op for the directory, an upload for a bucket). A recording is named by its
session id only, so no caller number or other personal data ever appears in a path or key.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class StoredRecording:
    """A recording to send: its size, and its bytes in chunks."""

    size_bytes: int
    chunks: AsyncIterator[bytes]


class RecordingStorage(Protocol):
    def spool_path(self, session_id: str) -> Path:
        """Where the writer puts the session's WAV while the session runs."""
        ...

    async def stored(self, session_id: str) -> None:
        """The writer has closed the spool file: keep it as the session's recording."""
        ...

    async def fetch(self, session_id: str) -> StoredRecording | None: ...

    async def delete(self, session_id: str) -> bool: ...

    async def recorded(self) -> list[tuple[str, datetime]]:
        """Every recording: (session id, when it was stored)."""
        ...


def recording_name(session_id: str) -> str:
    """``<uuid>.wav``; the UUID is parsed, so a session id can never name another path."""
    return f"{uuid.UUID(session_id)}.wav"


async def file_chunks(path: Path) -> AsyncIterator[bytes]:
    """A file's bytes, read off the event loop."""
    handle = await asyncio.to_thread(path.open, "rb")
    try:
        while chunk := await asyncio.to_thread(handle.read, CHUNK_BYTES):
            yield chunk
    finally:
        await asyncio.to_thread(handle.close)


class LocalRecordings:
    """Recordings as ``<dir>/<session id>.wav``."""

    def __init__(self, directory: str | Path) -> None:
        self._dir = Path(directory)

    def spool_path(self, session_id: str) -> Path:
        return self._dir / recording_name(session_id)

    async def stored(self, session_id: str) -> None:
        """Written in place: nothing to do."""

    async def fetch(self, session_id: str) -> StoredRecording | None:
        path = self.spool_path(session_id)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return None
        return StoredRecording(size, file_chunks(path))

    async def delete(self, session_id: str) -> bool:
        with contextlib.suppress(FileNotFoundError):
            self.spool_path(session_id).unlink()
            return True
        return False

    async def recorded(self) -> list[tuple[str, datetime]]:
        if not self._dir.is_dir():
            return []
        return [
            (path.stem, datetime.fromtimestamp(path.stat().st_mtime, UTC))
            for path in self._dir.glob("*.wav")
        ]
