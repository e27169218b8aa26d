"""A session's recording around its conversation: who records, the writer task, storing the file.

Kept apart from the runner so that running a session and recording it change independently:
the runner only asks for a recorder and hands the conversation over to ``run_recorded``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Literal

from gateway.sessions.plan import SessionPlan
from gateway.sessions.recording import SessionRecorder
from gateway.sessions.recordings_store import RecordingStorage
from gateway.sessions.wrap_up import complete_despite_cancel
from gateway.store.models import Assistant, Session

log = logging.getLogger(__name__)

RECORDING_CLOSE_S = 5.0  # the writer has this long after the session to write what is queued


def recorder_for(
    recordings: RecordingStorage | None, session: Session, assistant: Assistant, plan: SessionPlan
) -> SessionRecorder | None:
    """The session's recorder, or None when this gateway or this assistant does not record."""
    if recordings is None or plan.mode == "chat":
        return None
    if assistant.recording not in ("mono", "dual"):
        return None
    mode: Literal["mono", "dual"] = "dual" if assistant.recording == "dual" else "mono"
    return SessionRecorder(recordings.spool_path(session.id), plan, mode)


async def run_recorded(
    recordings: RecordingStorage,
    recorder: SessionRecorder,
    session_id: str,
    converse: Callable[[], Awaitable[str]],
) -> str:
    """Run ``converse`` with the recording writer alongside; store the file once it is closed
    complete, even if the door's task is cancelled meanwhile."""
    writer = asyncio.create_task(recorder.run(), name="recording-writer")
    try:
        return await converse()
    finally:
        if await close_recording(recorder, writer):
            await complete_despite_cancel(store_recording(recordings, session_id))


async def store_recording(recordings: RecordingStorage, session_id: str) -> None:
    """Hand the finished file to storage; failing to costs the recording (logged), not the end."""
    try:
        await recordings.stored(session_id)
    except Exception:
        log.exception("recording not stored", extra={"session_id": session_id})


async def close_recording(recorder: SessionRecorder, writer: asyncio.Task[None]) -> bool:
    """Let the writer write what is queued (bounded), then make sure it is gone; True if the
    file was closed complete."""
    recorder.finish()
    await asyncio.wait({writer}, timeout=RECORDING_CLOSE_S)
    writer.cancel()
    results = await asyncio.gather(writer, return_exceptions=True)
    if isinstance(results[0], BaseException):
        log.error("recording failed", exc_info=results[0])
        return isinstance(results[0], asyncio.CancelledError)  # closed by its finally
    return True
