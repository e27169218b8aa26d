"""Where recordings live: a small interface, a local directory behind it (``KURA_RECORDINGS_DIR``).

A recording is named by its session id only, so no caller number or other personal data ever
appears in a path.
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol


class RecordingStorage(Protocol):
    def path_for(self, session_id: str) -> Path:
        """Where the writer puts the session's WAV."""
        ...

    def find(self, session_id: str) -> Path | None:
        """The session's recording, if there is one."""
        ...

    def delete(self, session_id: str) -> bool: ...

    def recorded(self) -> list[tuple[str, datetime]]:
        """Every recording: (session id, when it was last written)."""
        ...


class LocalRecordings:
    """Recordings as ``<dir>/<session id>.wav``."""

    def __init__(self, directory: str | Path) -> None:
        self._dir = Path(directory)

    def path_for(self, session_id: str) -> Path:
        return self._dir / f"{uuid.UUID(session_id)}.wav"  # a UUID, never a path of its own

    def find(self, session_id: str) -> Path | None:
        path = self.path_for(session_id)
        return path if path.is_file() else None

    def delete(self, session_id: str) -> bool:
        with contextlib.suppress(FileNotFoundError):
            self.path_for(session_id).unlink()
            return True
        return False

    def recorded(self) -> list[tuple[str, datetime]]:
        if not self._dir.is_dir():
            return []
        return [
            (path.stem, datetime.fromtimestamp(path.stat().st_mtime, UTC))
            for path in self._dir.glob("*.wav")
        ]
