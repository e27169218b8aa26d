"""Phone-number rows: which carrier number is answered by which assistant."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from gateway.store.db import Db
from gateway.store.models import PhoneNumber


class PhoneNumberRepository:
    def __init__(self, db: Db) -> None:
        self._db = db

    async def create(self, fields: dict[str, Any], now: datetime) -> PhoneNumber | None:
        """A new row, or ``None`` if the number is already assigned."""
        row = PhoneNumber(**fields, created_at=now, updated_at=now)
        try:
            async with self._db.begin() as db:
                db.add(row)
        except IntegrityError:
            return None
        return row

    async def get(self, number_id: int) -> PhoneNumber | None:
        async with self._db() as db:
            return await db.get(PhoneNumber, number_id)

    async def get_by_number(self, number: str) -> PhoneNumber | None:
        """The row for an E.164 number."""
        async with self._db() as db:
            return await db.scalar(select(PhoneNumber).where(PhoneNumber.number == number))

    async def search(self, *, limit: int, offset: int) -> tuple[list[PhoneNumber], int]:
        page = select(PhoneNumber).order_by(PhoneNumber.number).limit(limit).offset(offset)
        async with self._db() as db:
            rows = list((await db.scalars(page)).all())
            total = int(await db.scalar(select(func.count()).select_from(PhoneNumber)) or 0)
        return rows, total

    async def update(
        self, number_id: int, fields: dict[str, Any], now: datetime
    ) -> PhoneNumber | None:
        async with self._db.begin() as db:
            row = await db.get(PhoneNumber, number_id)
            if row is None:
                return None
            for name, value in fields.items():
                setattr(row, name, value)
            row.updated_at = now
        return row

    async def delete(self, number_id: int) -> bool:
        async with self._db.begin() as db:
            result = await db.execute(delete(PhoneNumber).where(PhoneNumber.id == number_id))
        return bool(result.rowcount)  # type: ignore[attr-defined]
