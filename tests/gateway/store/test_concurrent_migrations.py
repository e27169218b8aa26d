"""Many nodes migrating one empty database at once: every one of them comes up.

Without the advisory lock, two PostgreSQL migrations raced on ``CREATE TABLE alembic_version``
and one failed with a unique violation; SQLite's migrations queue on the file's write lock.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from pathlib import Path

import pytest

from gateway.store import Store
from gateway.store.db import DatabaseUnavailable, schema_revisions
from tests.conftest import drop_postgres_database, fresh_postgres_database
from tests.kura_process import kura_serve, sqlite_url

NODES = 4


async def _migrate_all_at_once(url: str) -> None:
    stores = [Store.open(url) for _ in range(NODES)]
    try:
        # Bounded: without the lock, racing migrations could also block one another for good.
        await asyncio.wait_for(asyncio.gather(*(store.migrate() for store in stores)), 60)
        current, head = await schema_revisions(stores[0].engine)
        assert current == head
    finally:
        await asyncio.gather(*(store.aclose() for store in stores))


@pytest.mark.postgres
async def test_postgres_migrations_at_once_all_succeed() -> None:
    url, name = await fresh_postgres_database()
    try:
        await _migrate_all_at_once(url)
    finally:
        await drop_postgres_database(name)


async def test_sqlite_migrations_at_once_all_succeed(tmp_path: Path) -> None:
    await _migrate_all_at_once(sqlite_url(tmp_path / "kura.db"))


@pytest.mark.postgres
async def test_two_nodes_started_together_on_a_fresh_postgres_both_serve(tmp_path: Path) -> None:
    url, name = await fresh_postgres_database()
    try:
        # Entered from two threads: each start (and so each migration) begins before either
        # has printed its "listening" line.
        with concurrent.futures.ThreadPoolExecutor(2) as pool, contextlib.ExitStack() as stack:
            starts = [pool.submit(stack.enter_context, kura_serve(tmp_path, url)) for _ in "ab"]
            servers = [start.result() for start in starts]
            assert [server.terminate() for server in servers] == [0, 0]
    finally:
        await drop_postgres_database(name)


async def test_an_unreachable_database_is_named_without_its_password() -> None:
    store = Store.open("postgresql+asyncpg://kura:s3cret@127.0.0.1:1/kura")
    try:
        with pytest.raises(DatabaseUnavailable) as caught:
            await store.migrate()
    finally:
        await store.aclose()
    message = str(caught.value)
    assert message.startswith("cannot connect to the database postgresql+asyncpg://kura:***@")
    assert "s3cret" not in message
    assert "\n" not in message
