"""Transfer rows: each transfer a call's assistant asked for, written as its state changes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from gateway.store.db import Db
from gateway.store.models import CallTransfer


class TransferRepository:
    def __init__(self, db: Db) -> None:
        self._db = db

    async def add(self, row: CallTransfer) -> None:
        async with self._db.begin() as db:
            db.add(row)

    async def get(self, transfer_id: str) -> CallTransfer | None:
        async with self._db() as db:
            return await db.get(CallTransfer, transfer_id)

    async def update(self, transfer_id: str, fields: dict[str, Any]) -> None:
        async with self._db.begin() as db:
            await db.execute(
                update(CallTransfer).where(CallTransfer.id == transfer_id).values(**fields)
            )

    async def move(self, transfer_id: str, state: str, fields: dict[str, Any]) -> bool:
        """Update the row only if it is still in ``state``; ``False`` if another moved it."""
        async with self._db.begin() as db:
            result = await db.execute(
                update(CallTransfer)
                .where(CallTransfer.id == transfer_id, CallTransfer.state == state)
                .values(**fields)
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def of_call(self, call_sid: str) -> list[CallTransfer]:
        """The call's transfers, oldest first."""
        async with self._db() as db:
            rows = await db.scalars(
                select(CallTransfer)
                .where(CallTransfer.call_sid == call_sid)
                .order_by(CallTransfer.started_at, CallTransfer.id)
            )
            return list(rows)

    async def latest(self, call_sid: str) -> CallTransfer | None:
        """The call's last transfer: the one its ``<Connect action>`` answer acts on."""
        rows = await self.of_call(call_sid)
        return rows[-1] if rows else None
