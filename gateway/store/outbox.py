"""The event outbox: post-call events stored with the session's end, delivered by a worker.

A row is claimed by setting a lease in one conditional ``UPDATE`` (only if unleased or its lease
lapsed), so two nodes never both send it; on PostgreSQL the candidate rows are first read
``FOR UPDATE SKIP LOCKED`` so concurrent workers pick different rows instead of queueing on
the same ones. SQLite has one writer at a time, and the conditional update alone is enough.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, update

from gateway.store.db import Db
from gateway.store.models import OutboxEvent


class OutboxRepository:
    def __init__(self, db: Db) -> None:
        self._db = db

    async def add(self, row: OutboxEvent) -> None:
        async with self._db.begin() as db:
            db.add(row)

    async def claim(
        self, node_id: str, now: datetime, lease_until: datetime, *, limit: int
    ) -> list[OutboxEvent]:
        """Lease up to ``limit`` events due now; those are this node's to send."""
        due = (
            select(OutboxEvent.id)
            .where(
                OutboxEvent.delivered_at.is_(None),
                OutboxEvent.failed_at.is_(None),
                OutboxEvent.next_attempt_at <= now,
                or_(OutboxEvent.leased_until.is_(None), OutboxEvent.leased_until < now),
            )
            .order_by(OutboxEvent.next_attempt_at)
            .limit(limit)
        )
        claimed: list[OutboxEvent] = []
        async with self._db.begin() as db:
            if db.get_bind().dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True)
            for event_id in (await db.scalars(due)).all():
                taken = await db.execute(
                    update(OutboxEvent)
                    .where(
                        OutboxEvent.id == event_id,
                        or_(OutboxEvent.leased_until.is_(None), OutboxEvent.leased_until < now),
                    )
                    .values(leased_until=lease_until, leased_by=node_id)
                )
                if taken.rowcount == 1:  # type: ignore[attr-defined]
                    row = await db.get(OutboxEvent, event_id)
                    assert row is not None
                    claimed.append(row)
        return claimed

    async def delivered(self, event_id: str, now: datetime) -> None:
        await self._settle(event_id, delivered_at=now, leased_until=None, leased_by=None)

    async def retry_at(self, event_id: str, attempts: int, at: datetime, error: str) -> None:
        await self._settle(
            event_id,
            attempts=attempts,
            next_attempt_at=at,
            last_error=error[:200],
            leased_until=None,
            leased_by=None,
        )

    async def give_up(self, event_id: str, attempts: int, now: datetime, error: str) -> None:
        await self._settle(
            event_id, attempts=attempts, failed_at=now, last_error=error[:200], leased_until=None
        )

    async def release(self, node_id: str) -> None:
        """This node stops: its leases end now, so another node (or its restart) sends them."""
        async with self._db.begin() as db:
            await db.execute(
                update(OutboxEvent)
                .where(OutboxEvent.leased_by == node_id, OutboxEvent.delivered_at.is_(None))
                .values(leased_until=None, leased_by=None)
            )

    async def get(self, event_id: str) -> OutboxEvent | None:
        async with self._db() as db:
            return await db.get(OutboxEvent, event_id)

    async def _settle(self, event_id: str, **values: object) -> None:
        async with self._db.begin() as db:
            await db.execute(update(OutboxEvent).where(OutboxEvent.id == event_id).values(**values))
