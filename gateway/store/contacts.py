"""Contacts: callers by E.164 number, upserted atomically when a session names them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, String, bindparam, delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession as DbSession

from gateway.store.db import Db
from gateway.store.models import Contact, Session, Turn, UTCDateTime

# One statement that SQLite (3.35+) and PostgreSQL both read the same way. Written as text
# because it runs for every incoming call: the ORM's dialect-specific insert rebuilt its
# statement and cache key each time, about a third of a voice webhook's CPU.
_UPSERT = text(
    "INSERT INTO contacts (phone_number, first_seen_at, last_seen_at, session_count) "
    "VALUES (:phone_number, :now, :now, 1) "
    "ON CONFLICT (phone_number) DO UPDATE SET last_seen_at = excluded.last_seen_at, "
    "session_count = contacts.session_count + 1 "
    "RETURNING id"
).bindparams(bindparam("phone_number", type_=String()), bindparam("now", type_=UTCDateTime()))


async def upsert_contact(db: DbSession, phone_number: str, now: datetime) -> int:
    """Within ``db``'s transaction: insert the contact or bump its last-seen time and session
    count, in one statement; the contact's id."""
    contact_id = await db.scalar(_UPSERT, {"phone_number": phone_number, "now": now})
    assert contact_id is not None
    return int(contact_id)


class ContactRepository:
    def __init__(self, db: Db) -> None:
        self._db = db

    async def record_session(self, phone_number: str, now: datetime) -> Contact:
        """Insert the contact or bump its last-seen time and session count, in one statement."""
        async with self._db.begin() as db:
            contact_id = await upsert_contact(db, phone_number, now)
            contact = await db.get(Contact, contact_id, populate_existing=True)
        assert contact is not None
        return contact

    async def get(self, contact_id: int) -> Contact | None:
        async with self._db() as db:
            return await db.get(Contact, contact_id)

    async def get_by_number(self, phone_number: str) -> Contact | None:
        async with self._db() as db:
            return await db.scalar(select(Contact).where(Contact.phone_number == phone_number))

    async def search(
        self, *, phone_number: str | None, limit: int, offset: int, name: str | None = None
    ) -> tuple[list[Contact], int]:
        """A page of contacts, most recently seen first; ``name`` matches any part of a name,
        in any case."""
        conditions: list[ColumnElement[bool]] = []
        if phone_number:
            conditions.append(Contact.phone_number == phone_number)
        if name:
            escaped = name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            conditions.append(Contact.name.ilike(f"%{escaped}%", escape="\\"))
        page = (
            select(Contact)
            .where(*conditions)
            .order_by(Contact.last_seen_at.desc(), Contact.id)
            .limit(limit)
            .offset(offset)
        )
        total = select(func.count()).select_from(Contact).where(*conditions)
        async with self._db() as db:
            rows = list((await db.scalars(page)).all())
            count = int(await db.scalar(total) or 0)
        return rows, count

    async def rename(self, contact_id: int, name: str | None) -> Contact | None:
        """Set (or with ``None`` clear) the name an admin knows this caller by."""
        async with self._db.begin() as db:
            row = await db.get(Contact, contact_id)
            if row is None:
                return None
            row.name = name
        return row

    async def erase(self, contact_id: int, now: datetime) -> tuple[int, int] | None:
        """Erase a contact (None if unknown): its sessions' transcripts are deleted, the
        sessions keep no number, contact or metadata, and the contact row goes. One
        transaction; (sessions erased, turns deleted)."""
        async with self._db.begin() as db:
            if await db.get(Contact, contact_id) is None:
                return None
            owned = select(Session.id).where(Session.contact_id == contact_id)
            turns = await db.execute(delete(Turn).where(Turn.session_id.in_(owned)))
            sessions = await db.execute(
                update(Session)
                .where(Session.contact_id == contact_id)
                .values(contact_id=None, phone_number=None, meta={}, erased_at=now)
            )
            await db.execute(delete(Contact).where(Contact.id == contact_id))
        return int(sessions.rowcount), int(turns.rowcount)  # type: ignore[attr-defined]

    async def live_sessions(self, contact_id: int) -> list[str]:
        """Ids of the contact's pending and active sessions."""
        query = select(Session.id).where(
            Session.contact_id == contact_id, Session.status.in_(("pending", "active"))
        )
        async with self._db() as db:
            return list((await db.scalars(query)).all())

    async def sessions(self, contact_id: int, *, limit: int) -> list[Session]:
        """The contact's sessions, newest first."""
        query = (
            select(Session)
            .where(Session.contact_id == contact_id)
            .order_by(Session.created_at.desc(), Session.id)
            .limit(limit)
        )
        async with self._db() as db:
            return list((await db.scalars(query)).all())

    async def history(
        self, contact_id: int, session: Session
    ) -> tuple[Contact | None, int, Session | None]:
        """The contact, how many of its sessions came before ``session``, and the latest of
        them: one read for the caller context every call needs before it starts."""
        earlier = (
            Session.contact_id == contact_id,
            Session.id != session.id,
            Session.created_at <= session.created_at,
        )
        latest = (
            select(Session).where(*earlier).order_by(Session.created_at.desc(), Session.id).limit(1)
        )
        count = select(func.count()).select_from(Session).where(*earlier)
        async with self._db() as db:
            contact = await db.get(Contact, contact_id)
            if contact is None:
                return None, 0, None
            return contact, int(await db.scalar(count) or 0), await db.scalar(latest)
