"""Call rows: one per carrier call, found by its CallSid (unique, so retries find one row).

Call state that only a carrier has (its status sequence, the duration, the media-socket token)
lives here rather than on ``sessions``, which stays the same for apps and calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from gateway.store.db import Db
from gateway.store.models import Assistant, Call, PhoneNumber, Session

TERMINAL = ("completed", "busy", "no-answer", "failed", "canceled")


@dataclass(frozen=True, slots=True)
class CallFilter:
    """``GET /api/v1/calls`` filters; ``None`` leaves a field unfiltered."""

    status: str | None = None
    direction: str | None = None
    number: str | None = None
    """Either party: the number called or the number calling."""
    assistant_id: int | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


@dataclass(frozen=True, slots=True)
class CallLookup:
    """What answering a call needs to know, read in one database session."""

    call: Call | None
    """The call already stored for this CallSid (a retried webhook), if any."""
    number: PhoneNumber | None
    assistant: Assistant | None
    """The number's assistant; ``None`` if it was deleted."""


class CallRepository:
    def __init__(self, db: Db) -> None:
        self._db = db

    async def add(self, row: Call) -> bool:
        """Store the call unless its CallSid is already stored; ``False`` means another request
        (a retry on another node) got there first."""
        async with self._db.begin() as db:
            insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
            # Unset attributes are left out, so the columns' defaults (direction, ...) apply.
            values = {
                c.key: getattr(row, c.key)
                for c in Call.__table__.columns
                if c.key != "id" and getattr(row, c.key) is not None
            }
            statement = insert(Call).values(**values).on_conflict_do_nothing()
            result = await db.execute(statement)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def lookup(self, call_sid: str, to_number: str | None) -> CallLookup:
        """The stored call for ``call_sid`` and the route for ``to_number``. One session for
        both reads: this is the voice webhook's hot path."""
        route = (
            select(PhoneNumber, Assistant)
            .join(Assistant, Assistant.id == PhoneNumber.assistant_id)
            .where(PhoneNumber.number == to_number)
        )
        async with self._db() as db:
            call = await db.scalar(select(Call).where(Call.call_sid == call_sid))
            found = (await db.execute(route)).first() if to_number and call is None else None
        if found is None:
            return CallLookup(call, None, None)
        number, assistant = found
        return CallLookup(call, number, assistant if assistant.deleted_at is None else None)

    async def get_by_sid(self, call_sid: str) -> Call | None:
        async with self._db() as db:
            return await db.scalar(select(Call).where(Call.call_sid == call_sid))

    async def get_by_session(self, session_id: str) -> Call | None:
        async with self._db() as db:
            return await db.scalar(select(Call).where(Call.session_id == session_id))

    async def redeem_media_token(
        self, call_sid: str, session_id: str, token_hash: str, now: datetime
    ) -> Session | None:
        """Use up the media token in one conditional update: exactly one caller wins, and only
        while the token is unexpired and bound to this CallSid and session. Comparing SHA-256
        hashes in SQL leaks nothing useful about the token itself. The winner gets the session,
        read in the same transaction."""
        async with self._db.begin() as db:
            result = await db.execute(
                update(Call)
                .where(
                    Call.call_sid == call_sid,
                    Call.session_id == session_id,
                    Call.media_token_hash == token_hash,
                    Call.media_token_expires_at > now,
                )
                .values(media_token_hash=None, media_token_expires_at=None, updated_at=now)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                return None
            return await db.get(Session, session_id)

    async def record_status(
        self, call_sid: str, status: str, order: int, duration_s: int | None, now: datetime
    ) -> bool:
        """Move the call to ``status`` only if it is later than the stored one (``order``), so
        duplicated and shuffled callbacks converge on the latest real status."""
        values: dict[str, object] = {"status": status, "status_order": order, "updated_at": now}
        if duration_s is not None:
            values["duration_s"] = duration_s
        async with self._db.begin() as db:
            result = await db.execute(
                update(Call)
                .where(Call.call_sid == call_sid, Call.status_order < order)
                .values(**values)
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def request_transfer(self, session_id: str, now: datetime) -> bool:
        """Mark the call of ``session_id`` for transfer; the ``<Connect action>`` URL reads it.
        ``False`` when the session is not a call."""
        async with self._db.begin() as db:
            result = await db.execute(
                update(Call)
                .where(Call.session_id == session_id)
                .values(transfer_requested=True, updated_at=now)
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def get(self, call_id: int) -> Call | None:
        async with self._db() as db:
            return await db.get(Call, call_id)

    async def get_by_idempotency_key(self, key: str) -> Call | None:
        async with self._db() as db:
            return await db.scalar(select(Call).where(Call.idempotency_key == key))

    async def update_fields(self, call_id: int, fields: dict[str, Any], now: datetime) -> None:
        async with self._db.begin() as db:
            await db.execute(
                update(Call).where(Call.id == call_id).values(**fields, updated_at=now)
            )

    async def set_once(self, call_id: int, column: str, value: Any, now: datetime) -> bool:
        """Set ``column`` only while it is NULL; ``True`` for the one caller that set it (an
        end reason is the first one given; a voicemail is played once)."""
        target = getattr(Call, column)
        async with self._db.begin() as db:
            result = await db.execute(
                update(Call)
                .where(Call.id == call_id, target.is_(None))
                .values({column: value, "updated_at": now})
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def search(self, where: CallFilter, *, limit: int, offset: int) -> tuple[list[Call], int]:
        """Newest first, with the total that match."""
        conditions: list[ColumnElement[bool]] = []
        if where.status is not None:
            statuses = {"queued": ("queued", "initiated"), "in-progress": ("in-progress",
                        "answered")}.get(where.status, (where.status,))  # fmt: skip
            conditions.append(Call.status.in_(statuses))
        if where.direction is not None:
            conditions.append(Call.direction == where.direction)
        if where.number is not None:
            conditions.append((Call.to_number == where.number) | (Call.from_number == where.number))
        if where.assistant_id is not None:
            conditions.append(Call.assistant_id == where.assistant_id)
        if where.created_after is not None:
            conditions.append(Call.created_at >= where.created_after)
        if where.created_before is not None:
            conditions.append(Call.created_at < where.created_before)
        page = (
            select(Call).where(*conditions).order_by(Call.created_at.desc(), Call.id.desc())
            .limit(limit).offset(offset)
        )  # fmt: skip
        async with self._db() as db:
            rows = list((await db.scalars(page)).all())
            total = await db.scalar(select(func.count()).select_from(Call).where(*conditions))
        return rows, int(total or 0)

    async def bind_sid(self, call_id: int, provisional: str, call_sid: str, now: datetime) -> bool:
        """Replace a provisional CallSid with the carrier's, once."""
        async with self._db.begin() as db:
            result = await db.execute(
                update(Call)
                .where(Call.id == call_id, Call.call_sid == provisional)
                .values(call_sid=call_sid, updated_at=now)
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]
