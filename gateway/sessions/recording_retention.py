"""Recording retention: a periodic sweep deletes recordings older than their assistant keeps
them (``recording_retention_days``), or ``KURA_RECORDING_RETENTION_DAYS`` when it says nothing."""

from __future__ import annotations

import logging
from datetime import timedelta

from gateway.sessions.recordings_store import RecordingStorage
from gateway.store import Store
from kinds.clock import Clock

log = logging.getLogger(__name__)

SWEEP_INTERVAL_S = 3600.0  # retention is counted in days: hourly is prompt enough


async def sweep_recordings(
    store: Store, storage: RecordingStorage, clock: Clock, default_days: int
) -> int:
    """Delete every recording past its retention; returns how many were deleted."""
    now = clock.now()
    days_by_assistant: dict[int, int] = {}
    deleted = 0
    for session_id, written_at in await storage.recorded():
        if now - written_at <= timedelta(days=1):
            continue  # no retention is shorter than a day: spare the lookups
        session = await store.sessions.get(session_id)
        days = default_days
        if session is not None:
            if session.assistant_id not in days_by_assistant:
                assistant = await store.assistants.get(session.assistant_id, include_deleted=True)
                kept = assistant.recording_retention_days if assistant is not None else None
                days_by_assistant[session.assistant_id] = kept or default_days
            days = days_by_assistant[session.assistant_id]
        if now - written_at > timedelta(days=days) and await storage.delete(session_id):
            deleted += 1
    if deleted:
        log.info("recordings past retention deleted", extra={"count": deleted})
    return deleted


async def run_recording_sweeps(
    store: Store, storage: RecordingStorage, clock: Clock, default_days: int
) -> None:
    """Sweep now and then every ``SWEEP_INTERVAL_S``, until cancelled."""
    while True:
        try:
            await sweep_recordings(store, storage, clock, default_days)
        except Exception:
            log.exception("recording sweep failed")
        await clock.sleep(SWEEP_INTERVAL_S)
