"""Storage: SQLAlchemy models, repositories and Alembic migrations (SQLite or PostgreSQL)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.store.assistants import AssistantRepository
from gateway.store.calls import CallRepository
from gateway.store.contacts import ContactRepository
from gateway.store.db import create_engine, migrate, sessionmaker
from gateway.store.keys import KeyRepository
from gateway.store.numbers import PhoneNumberRepository
from gateway.store.outbox import OutboxRepository
from gateway.store.sessions import SessionRepository
from gateway.store.transfers import TransferRepository


@dataclass(frozen=True, slots=True)
class Store:
    """Every repository over one engine."""

    engine: AsyncEngine
    keys: KeyRepository
    assistants: AssistantRepository
    contacts: ContactRepository
    sessions: SessionRepository
    numbers: PhoneNumberRepository
    calls: CallRepository
    outbox: OutboxRepository
    transfers: TransferRepository

    @classmethod
    def open(cls, database_url: str) -> Store:
        engine = create_engine(database_url)
        db = sessionmaker(engine)
        return cls(
            engine=engine,
            keys=KeyRepository(db),
            assistants=AssistantRepository(db),
            contacts=ContactRepository(db),
            sessions=SessionRepository(db),
            numbers=PhoneNumberRepository(db),
            calls=CallRepository(db),
            outbox=OutboxRepository(db),
            transfers=TransferRepository(db),
        )

    async def migrate(self) -> None:
        await migrate(self.engine)

    async def aclose(self) -> None:
        await self.engine.dispose()


__all__ = ["Store"]
