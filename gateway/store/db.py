"""Engine set-up and schema migration (Alembic), for SQLite and PostgreSQL alike.

Migrations are safe when many nodes start at once on an empty database: on PostgreSQL the
upgrade runs under a transaction-scoped advisory lock, so one node migrates while the others
wait and then find the schema at head; on SQLite the migrating transaction takes the file's
write lock up front (``BEGIN IMMEDIATE``), with the same effect. ``kura migrate`` remains the
recommended deploy step, so nodes never wait on one another at start.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, event, make_url, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.ext.asyncio import AsyncSession as DbSession

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
READ_ONLY_OPTION = "kura_read_only"
# Any fixed 64-bit number works, as long as nothing else on the server takes the same advisory
# lock: this one is the ASCII of "kuramigr".
MIGRATION_LOCK_KEY = 0x6B7572616D696772


class DatabaseUnavailable(ConnectionError):
    """The database could not be reached, or refused us; the message names it (no password).

    A ``ConnectionError``: the operator's environment, not a bug, so the CLI prints it in one
    line (exit 1) where it printed ``[Errno 111] Connection refused`` without saying what."""


def is_transient(exc: BaseException) -> bool:
    """A database error that a later try may not meet: SQLite's "database is locked" past
    ``busy_timeout``, a PostgreSQL lock or statement timeout, a connection lost mid-query.
    Not a constraint or a programming error, which a retry would only repeat."""
    return isinstance(exc, OperationalError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )


def describe_database(database_url: str) -> str:
    """The URL with any password masked, fit for messages and logs."""
    return make_url(database_url).render_as_string(hide_password=True)


async def connect(engine: AsyncEngine) -> AsyncConnection:
    """A connection, or ``DatabaseUnavailable`` naming the database and the reason."""
    try:
        return await engine.connect()
    except (OSError, DBAPIError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        where = engine.url.render_as_string(hide_password=True)
        raise DatabaseUnavailable(f"cannot connect to the database {where}: {reason}") from exc


# WAL lets readers run beside the transcript writer; busy_timeout makes a second writer wait for
# the lock instead of failing with "database is locked"; NORMAL sync survives app crashes (a power
# loss may roll back the last commit, which the turn-by-turn writes accept).
_SQLITE_PRAGMAS = ("busy_timeout=5000", "synchronous=NORMAL", "foreign_keys=ON")
_WAL = "PRAGMA journal_mode=WAL"


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in _SQLITE_PRAGMAS:
        cursor.execute(f"PRAGMA {pragma}")
    try:
        cursor.execute(_WAL)
    except Exception as exc:
        # WAL is a property of the file, set once by whoever opens it first. Switching a new
        # file needs an exclusive lock that SQLite does not wait for (busy_timeout or not), so
        # nodes starting together on one new file failed with "database is locked". The
        # connection holding that lock is one of ours, switching the file to WAL itself.
        if "locked" not in str(exc):
            raise
    cursor.close()
    # Let SQLAlchemy's "begin" event open transactions itself (the driver would open a
    # deferred one on the first write instead).
    dbapi_connection.isolation_level = None


def _begin_immediate(connection: Connection) -> None:
    """Take SQLite's write lock when a (writing) transaction starts, not at its first write.

    A deferred transaction that reads, then writes, cannot upgrade its lock if another writer
    committed meanwhile: SQLite answers "database is locked" at once, whatever busy_timeout
    says. Taking the lock up front makes writers queue on busy_timeout instead. WAL readers
    outside transactions are unaffected.

    Reads (``Db.__call__``) skip it: the driver connection is in autocommit, so they take no
    lock at all and see the last committed state, as WAL readers do.
    """
    if connection.get_execution_options().get(READ_ONLY_OPTION):
        return
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
        # No reset on return: every session ends its own transaction (commit, or rollback on
        # close), so the pool's extra ROLLBACK was only one more trip to the driver thread.
        engine = create_async_engine(
            database_url,
            pool_size=1,
            max_overflow=0,
            pool_timeout=30,
            pool_reset_on_return=None,
        )
    else:
        engine = create_async_engine(database_url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _set_sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _begin_immediate)
    return engine


class Db:
    """How repositories open database sessions: ``db()`` to read, ``db.begin()`` to write.

    On SQLite a read runs without a transaction of its own: no ``BEGIN IMMEDIATE`` (which
    would queue it behind writers for a lock it does not need). With aiosqlite every statement
    is several trips to the driver's thread, each waiting for a turn of a busy event loop; a
    one-row read fell from 9 trips to 5, a one-row write from 9 to 8. PostgreSQL reads keep
    their transaction, which a count and a page read together rely on for a consistent answer.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._write = async_sessionmaker(engine, expire_on_commit=False)
        reader = engine
        if engine.dialect.name == "sqlite":
            # Not isolation_level=AUTOCOMMIT: SQLAlchemy would set and reset it with PRAGMAs at
            # every checkout, more trips than it saves; the driver is in autocommit already.
            reader = engine.execution_options(**{READ_ONLY_OPTION: True})
        self._read = async_sessionmaker(reader, expire_on_commit=False)

    def __call__(self) -> DbSession:
        return self._read()

    def begin(self) -> AbstractAsyncContextManager[DbSession]:
        return self._write.begin()


def sessionmaker(engine: AsyncEngine) -> Db:
    return Db(engine)


def _alembic_config(connection: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


async def migrate(engine: AsyncEngine, revision: str = "head") -> None:
    """Upgrade the schema to ``revision`` in one transaction, one node at a time.

    Without the lock, two nodes starting together on an empty PostgreSQL database both ran
    ``CREATE TABLE alembic_version`` and one crashed with a unique violation."""

    def _upgrade(connection: Connection) -> None:
        command.upgrade(_alembic_config(connection), revision)

    conn = await connect(engine)
    try:
        async with conn.begin():
            if conn.dialect.name == "postgresql":
                # Released at commit; PostgreSQL's DDL is transactional, so a waiting node
                # sees either no schema or all of it.
                lock = text("SELECT pg_advisory_xact_lock(:key)")
                await conn.execute(lock, {"key": MIGRATION_LOCK_KEY})
            await conn.run_sync(_upgrade)
    finally:
        await conn.close()


async def schema_revisions(engine: AsyncEngine) -> tuple[str | None, str | None]:
    """(the database's revision, or None when unmigrated; the newest this code knows)."""

    def _current(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    conn = await connect(engine)
    try:
        current = await conn.run_sync(_current)
    finally:
        await conn.close()
    return current, head
