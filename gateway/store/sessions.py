"""Session rows and their transcript turns."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update

from gateway.store.contacts import upsert_contact
from gateway.store.db import Db
from gateway.store.models import Base, Session, Turn

LIVE_STATUSES = ("pending", "active")


@dataclass(frozen=True, slots=True)
class SessionFilter:
    status: str | None = None
    phone_number: str | None = None
    assistant_id: int | None = None
    api_key_id: int | None = None
    channel: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


class SessionRepository:
    def __init__(self, db: Db) -> None:
        self._db = db

    async def add(
        self, row: Session, companions: Sequence[Base] = (), *, contact_number: str | None = None
    ) -> Session:
        """Store the session and its companion rows (a call's) in one transaction; with
        ``contact_number``, upsert that contact in it too and link the session to it (so a
        session rolled back, by a racing webhook say, does not count as a contact's visit)."""
        async with self._db.begin() as db:
            if contact_number is not None:
                row.contact_id = await upsert_contact(db, contact_number, row.created_at)
            db.add(row)
            await db.flush()  # the session first: companions refer to it
            db.add_all(companions)
        return row

    async def get(self, session_id: str) -> Session | None:
        async with self._db() as db:
            return await db.get(Session, session_id)

    async def search(
        self, where: SessionFilter, *, limit: int, offset: int
    ) -> tuple[list[Session], int]:
        conditions = []
        if where.status:
            conditions.append(Session.status == where.status)
        if where.phone_number:
            conditions.append(Session.phone_number == where.phone_number)
        if where.assistant_id is not None:
            conditions.append(Session.assistant_id == where.assistant_id)
        if where.api_key_id is not None:
            conditions.append(Session.api_key_id == where.api_key_id)
        if where.channel:
            conditions.append(Session.channel == where.channel)
        if where.created_after is not None:
            conditions.append(Session.created_at >= where.created_after)
        if where.created_before is not None:
            conditions.append(Session.created_at < where.created_before)
        page = (
            select(Session)
            .where(*conditions)
            .order_by(Session.created_at.desc(), Session.id)
            .limit(limit)
            .offset(offset)
        )
        total = select(func.count()).select_from(Session).where(*conditions)
        async with self._db() as db:
            rows = list((await db.scalars(page)).all())
            count = int(await db.scalar(total) or 0)
        return rows, count

    async def claim(
        self, session_id: str, now: datetime, *, overrides: dict[str, Any] | None = None
    ) -> Session | None:
        """Mark a pending, unexpired session active; exactly one caller wins a race and gets
        the row as it now stands (read in the same transaction). ``overrides`` replaces the
        stored ones in the same update (what the connect fixed: an app's audio format)."""
        changed = {} if overrides is None else {"overrides": overrides}
        async with self._db.begin() as db:
            result = await db.execute(
                update(Session)
                .where(
                    Session.id == session_id,
                    Session.status == "pending",
                    Session.expires_at > now,
                )
                .values(
                    status="active",
                    connected_at=now,
                    last_activity_at=now,
                    connect_token_hash=None,
                    **changed,
                )
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                return None
            return await db.get(Session, session_id, populate_existing=True)

    async def finish(self, session_id: str, reason: str, now: datetime) -> bool:
        """End a live session once, recording why; a second call changes nothing."""
        async with self._db.begin() as db:
            result = await db.execute(
                update(Session)
                .where(Session.id == session_id, Session.status.in_(LIVE_STATUSES))
                .values(status="ended", ended_at=now, end_reason=reason, connect_token_hash=None)
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def note(self, session_id: str, key: str, value: object) -> None:
        """Set ``key`` in the session's metadata (a failover, say), keeping the rest."""
        async with self._db.begin() as db:
            row = await db.get(Session, session_id)
            if row is not None:
                row.meta = {**(row.meta or {}), key: value}

    async def expire_due(self, now: datetime) -> int:
        """Pending sessions whose connect window has passed become ``expired``."""
        async with self._db.begin() as db:
            result = await db.execute(
                update(Session)
                .where(Session.status == "pending", Session.expires_at <= now)
                .values(status="expired", end_reason="not_connected", connect_token_hash=None)
            )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def end_all_active(self, reason: str, now: datetime) -> int:
        """End every session still marked active (a lone node starting after a crash)."""
        async with self._db.begin() as db:
            result = await db.execute(
                update(Session)
                .where(Session.status == "active")
                .values(status="ended", ended_at=now, end_reason=reason)
            )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def active_connected_before(self, cutoff: datetime, *, limit: int = 500) -> list[str]:
        """Ids of sessions connected before ``cutoff`` and still active (sweep candidates)."""
        query = (
            select(Session.id)
            .where(Session.status == "active", Session.connected_at < cutoff)
            .order_by(Session.connected_at)
            .limit(limit)
        )
        async with self._db() as db:
            return list((await db.scalars(query)).all())

    async def live_of_assistant(self, assistant_id: int) -> list[Session]:
        """The assistant's pending and active sessions."""
        query = select(Session).where(
            Session.assistant_id == assistant_id, Session.status.in_(LIVE_STATUSES)
        )
        async with self._db() as db:
            return list((await db.scalars(query)).all())

    async def ended_among(self, session_ids: Collection[str]) -> dict[str, str]:
        """Which of these sessions are no longer live, each with why it ended."""
        query = select(Session.id, Session.status, Session.end_reason).where(
            Session.id.in_(list(session_ids)), Session.status.not_in(LIVE_STATUSES)
        )
        async with self._db() as db:
            rows = (await db.execute(query)).all()
        return {row.id: row.end_reason or row.status for row in rows}

    async def add_turns(self, session_id: str, turns: Sequence[Turn], completed: int) -> None:
        """Store finished turns and count ``completed`` more conversational turns; nothing
        for a session whose contact was erased meanwhile."""
        async with self._db.begin() as db:
            erased = await db.scalar(select(Session.erased_at).where(Session.id == session_id))
            if erased is not None:
                return
            db.add_all(turns)
            values: dict[str, Any] = {}
            if completed:
                values["total_turns"] = Session.total_turns + completed
            if turns:
                values["last_activity_at"] = max(turn.ended_at for turn in turns)
            if values:
                await db.execute(update(Session).where(Session.id == session_id).values(**values))

    async def amend_turn(self, session_id: str, seq: int, text: str) -> None:
        """The caller heard only ``text`` of this utterance before cutting in."""
        async with self._db.begin() as db:
            await db.execute(
                update(Turn)
                .where(Turn.session_id == session_id, Turn.seq == seq)
                .values(text=text, interrupted=True)
            )

    async def mean_latencies(self, session_ids: Collection[str]) -> dict[str, float]:
        """Each session's mean reply latency (ms), for those with at least one measured."""
        if not session_ids:
            return {}
        query = (
            select(Turn.session_id, func.avg(Turn.latency_ms))
            .where(Turn.session_id.in_(list(session_ids)), Turn.latency_ms.is_not(None))
            .group_by(Turn.session_id)
        )
        async with self._db() as db:
            rows = (await db.execute(query)).all()
        return {session_id: float(mean) for session_id, mean in rows if mean is not None}

    async def delete_turns_before(self, cutoff: datetime) -> int:
        """Delete every transcript turn that ended before ``cutoff`` (the retention sweep)."""
        async with self._db.begin() as db:
            result = await db.execute(delete(Turn).where(Turn.ended_at < cutoff))
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def turns(self, session_id: str) -> list[Turn]:
        query = select(Turn).where(Turn.session_id == session_id).order_by(Turn.seq, Turn.id)
        async with self._db() as db:
            return list((await db.scalars(query)).all())
