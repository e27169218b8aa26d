"""Contacts: callers by E.164 number, upserted atomically when a session names them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession as DbSession
from sqlalchemy.ext.asyncio import async_sessionmaker

from gateway.store.models import Contact


class ContactRepository:
    def __init__(self, db: async_sessionmaker[DbSession]) -> None:
        self._db = db

    async def record_session(self, phone_number: str, now: datetime) -> Contact:
        """Insert the contact or bump its last-seen time and session count, in one statement."""
        async with self._db.begin() as db:
            insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
            statement = insert(Contact).values(
                phone_number=phone_number, first_seen_at=now, last_seen_at=now, session_count=1
            )
            statement = statement.on_conflict_do_update(
                index_elements=[Contact.phone_number],
                set_={"last_seen_at": now, "session_count": Contact.session_count + 1},
            )
            await db.execute(statement)
            row = await db.scalar(select(Contact).where(Contact.phone_number == phone_number))
        assert row is not None
        return row

    async def get(self, contact_id: int) -> Contact | None:
        async with self._db() as db:
            return await db.get(Contact, contact_id)

    async def get_by_number(self, phone_number: str) -> Contact | None:
        async with self._db() as db:
            return await db.scalar(select(Contact).where(Contact.phone_number == phone_number))
