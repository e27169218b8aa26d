"""Transcript persistence off the audio path: turns go on a queue that one writer task drains.

A crash loses at most the turns still queued (normally just the turn in flight); shutdown drains
the queue before the store closes.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from gateway.store.models import Turn
from gateway.store.sessions import SessionRepository

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TurnRecord:
    """One utterance to store: who spoke, what was said, when, and whether it was cut off."""

    role: str
    text: str
    started_at: datetime
    ended_at: datetime
    interrupted: bool = False
    turn_id: int | None = None
    latency_ms: int | None = None

    @property
    def duration_ms(self) -> int:
        return round((self.ended_at - self.started_at).total_seconds() * 1000)


@dataclass(frozen=True, slots=True)
class _Batch:
    session_id: str
    first_seq: int
    records: tuple[TurnRecord, ...]
    completed_turns: int


@dataclass(frozen=True, slots=True)
class _Amendment:
    session_id: str
    seq: int
    text: str


class TranscriptWriter:
    """Owns the writer task; ``submit`` never blocks the caller."""

    def __init__(self, sessions: SessionRepository) -> None:
        self._sessions = sessions
        self._queue: asyncio.Queue[_Batch | _Amendment | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="transcript-writer")

    def submit(
        self, session_id: str, first_seq: int, records: tuple[TurnRecord, ...], completed: int
    ) -> None:
        self._queue.put_nowait(_Batch(session_id, first_seq, records, completed))

    def amend(self, session_id: str, seq: int, text: str) -> None:
        """Replace a stored utterance's text (after the batch that stored it: the queue is FIFO)."""
        self._queue.put_nowait(_Amendment(session_id, seq, text))

    async def drain(self) -> None:
        """Wait until everything submitted so far is stored."""
        await self._queue.join()

    async def aclose(self) -> None:
        """Store what is queued, then stop the writer."""
        if self._task is None:
            return
        self._queue.put_nowait(None)
        await self._task
        self._task = None

    async def _run(self) -> None:
        while True:
            batch = await self._queue.get()
            try:
                if batch is None:
                    return
                await self._write(batch)
            finally:
                self._queue.task_done()

    async def _write(self, item: _Batch | _Amendment) -> None:
        for attempt in range(3):
            try:
                if isinstance(item, _Amendment):
                    await self._sessions.amend_turn(item.session_id, item.seq, item.text)
                else:
                    await self._sessions.add_turns(
                        item.session_id, _rows(item), item.completed_turns
                    )
                return
            except Exception:
                log.exception("transcript write failed", extra={"attempt": attempt + 1})
                await asyncio.sleep(0.2 * (attempt + 1))


def _rows(batch: _Batch) -> list[Turn]:
    return [
        Turn(
            session_id=batch.session_id,
            seq=batch.first_seq + offset,
            role=record.role,
            text=record.text,
            started_at=record.started_at,
            ended_at=record.ended_at,
            interrupted=record.interrupted,
            turn_id=record.turn_id,
            duration_ms=record.duration_ms,
            latency_ms=record.latency_ms,
        )
        for offset, record in enumerate(batch.records)
    ]


@dataclass(frozen=True, slots=True)
class SessionTurns:
    """One session's view of the transcript writer."""

    writer: TranscriptWriter
    session_id: str

    def add(self, first_seq: int, records: tuple[TurnRecord, ...], completed: bool) -> None:
        self.writer.submit(self.session_id, first_seq, records, int(completed))

    def amend(self, seq: int, text: str) -> None:
        self.writer.amend(self.session_id, seq, text)
