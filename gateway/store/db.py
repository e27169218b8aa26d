"""Engine set-up and schema migration (Alembic), for SQLite and PostgreSQL alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as DbSession

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

# WAL lets readers run beside the transcript writer; busy_timeout makes a second writer wait for
# the lock instead of failing with "database is locked"; NORMAL sync survives app crashes (a power
# loss may roll back the last commit, which the turn-by-turn writes accept).
_SQLITE_PRAGMAS = ("journal_mode=WAL", "busy_timeout=5000", "synchronous=NORMAL", "foreign_keys=ON")


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in _SQLITE_PRAGMAS:
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()
    # Let SQLAlchemy's "begin" event open transactions itself (the driver would open a
    # deferred one on the first write instead).
    dbapi_connection.isolation_level = None


def _begin_immediate(connection: Connection) -> None:
    """Take SQLite's write lock when a transaction starts, not at its first write.

    A deferred transaction that reads, then writes, cannot upgrade its lock if another writer
    committed meanwhile: SQLite answers "database is locked" at once, whatever busy_timeout
    says. Taking the lock up front makes writers queue on busy_timeout instead. WAL readers
    outside transactions are unaffected.
    """
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _check_sqlite_directory(database_url: str) -> None:
    """Fail clearly, before any driver thread starts, when SQLite could not create its file
    (it makes the file, never the directories; aiosqlite's worker would otherwise outlive the
    event loop and print a traceback of its own)."""
    database = make_url(database_url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    parent = Path(database).expanduser().resolve().parent
    if not parent.is_dir():
        raise FileNotFoundError(
            f"unable to open database file: the directory {parent} does not exist"
        )


def create_engine(database_url: str) -> AsyncEngine:
    """An async engine; SQLite gets the pragmas above on every connection."""
    if database_url.startswith("sqlite"):
        _check_sqlite_directory(database_url)
        # One connection per process: SQLite has one writer anyway, and queueing on the async
        # pool is fair and cheap, whereas connections contending for the file lock wait in
        # busy_timeout's sleeps (up to 100 ms a try) — seconds of webhook latency under load.
        engine = create_async_engine(database_url, pool_size=1, max_overflow=0, pool_timeout=30)
    else:
        engine = create_async_engine(database_url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _set_sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _begin_immediate)
    return engine


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[DbSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def _alembic_config(connection: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


async def migrate(engine: AsyncEngine, revision: str = "head") -> None:
    """Upgrade the schema to ``revision`` over the engine's own connection."""

    def _upgrade(connection: Connection) -> None:
        command.upgrade(_alembic_config(connection), revision)

    async with engine.begin() as conn:
        await conn.run_sync(_upgrade)
