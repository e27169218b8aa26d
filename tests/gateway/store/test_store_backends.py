"""The same migrations and repositories on SQLite and PostgreSQL (required under CI=true)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.store import Store
from gateway.store.models import Session
from tests.conftest import drop_postgres_database, fresh_postgres_database

NOW = datetime(2026, 1, 26, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        store = Store.open(f"sqlite+aiosqlite:///{tmp_path / 'kura.db'}")
        await store.migrate()
        yield store
        await store.aclose()
        return
    url, name = await fresh_postgres_database()
    store = Store.open(url)
    try:
        await store.migrate()
        yield store
    finally:
        await store.aclose()
        await drop_postgres_database(name)


async def test_migrating_twice_is_a_no_op(store: Store) -> None:
    await store.migrate()
    assert await store.assistants.count() == 0


async def test_keys_round_trip_and_revoke(store: Store) -> None:
    secret = "kura_live_" + "a" * 38
    row = await store.keys.create(
        secret, name="k", permissions=["sessions:create"], rate_limit_per_minute=60, now=NOW
    )
    found = await store.keys.find_by_secret(secret)
    assert found is not None
    assert found.id == row.id
    assert found.created_at == NOW
    assert await store.keys.find_by_secret(secret[:-1] + "b") is None
    assert await store.keys.revoke(row.id, NOW)
    assert not await store.keys.revoke(row.id, NOW)
    assert await store.keys.find_by_secret(secret) is None


async def test_contact_upserts_are_atomic_under_concurrency(store: Store) -> None:
    times = [NOW + timedelta(seconds=i) for i in range(10)]
    await asyncio.gather(*(store.contacts.record_session("+15550001111", t) for t in times))
    contact = await store.contacts.get_by_number("+15550001111")
    assert contact is not None
    assert contact.session_count == 10
    assert contact.first_seen_at in times
    assert contact.last_seen_at in times


async def test_session_claim_has_one_winner_and_expiry_is_exact(store: Store) -> None:
    assistant = await store.assistants.create({"name": "a"}, NOW)
    rows = []
    for _ in range(2):
        row = Session(
            id=str(uuid.uuid4()),
            assistant_id=assistant.id,
            mode="voice",
            channel="api",
            status="pending",
            language_code="en-US",
            meta={"k": [1, 2]},
            created_at=NOW,
            expires_at=NOW + timedelta(minutes=5),
            total_turns=0,
        )
        rows.append(await store.sessions.add(row))
    wins = await asyncio.gather(*(store.sessions.claim(rows[0].id, NOW) for _ in range(5)))
    (winner,) = [w for w in wins if w is not None]
    assert (winner.id, winner.status, winner.connected_at) == (rows[0].id, "active", NOW)
    assert await store.sessions.expire_due(NOW + timedelta(minutes=5)) == 1
    expired = await store.sessions.get(rows[1].id)
    assert expired is not None
    assert (expired.status, expired.end_reason) == ("expired", "not_connected")
    assert await store.sessions.finish(rows[0].id, "client_stop", NOW)
    assert not await store.sessions.finish(rows[0].id, "again", NOW)
    done = await store.sessions.get(rows[0].id)
    assert done is not None
    assert (done.status, done.end_reason, done.meta) == ("ended", "client_stop", {"k": [1, 2]})
