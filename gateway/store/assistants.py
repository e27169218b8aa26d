"""Assistant rows. Deleting is soft, so sessions keep pointing at the assistant they used."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from gateway.store.db import Db
from gateway.store.models import Assistant


class AssistantRepository:
    def __init__(self, db: Db) -> None:
        self._db = db

    async def create(self, fields: dict[str, Any], now: datetime) -> Assistant:
        row = Assistant(**fields, created_at=now, updated_at=now)
        async with self._db.begin() as db:
            db.add(row)
        return row

    async def get(self, assistant_id: int, *, include_deleted: bool = False) -> Assistant | None:
        async with self._db() as db:
            row = await db.get(Assistant, assistant_id)
        if row is None or (row.deleted_at is not None and not include_deleted):
            return None
        return row

    async def list_all(self) -> list[Assistant]:
        query = select(Assistant).where(Assistant.deleted_at.is_(None)).order_by(Assistant.id)
        async with self._db() as db:
            return list((await db.scalars(query)).all())

    async def page(self, *, limit: int | None, offset: int) -> tuple[list[Assistant], int]:
        """Live assistants by id, ``limit`` (None: all) from ``offset``, and how many exist."""
        live = Assistant.deleted_at.is_(None)
        query = select(Assistant).where(live).order_by(Assistant.id).offset(offset).limit(limit)
        total = select(func.count()).select_from(Assistant).where(live)
        async with self._db() as db:
            rows = list((await db.scalars(query)).all())
            return rows, int(await db.scalar(total) or 0)

    async def count(self) -> int:
        return len(await self.list_all())

    async def update(
        self, assistant_id: int, fields: dict[str, Any], now: datetime
    ) -> Assistant | None:
        async with self._db.begin() as db:
            row = await db.get(Assistant, assistant_id)
            if row is None or row.deleted_at is not None:
                return None
            for name, value in fields.items():
                setattr(row, name, value)
            row.updated_at = now
        return row

    async def delete(self, assistant_id: int, now: datetime) -> bool:
        async with self._db.begin() as db:
            row = await db.get(Assistant, assistant_id)
            if row is None or row.deleted_at is not None:
                return False
            row.deleted_at = now
        return True
