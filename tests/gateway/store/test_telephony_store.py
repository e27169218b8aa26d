"""Phone numbers, calls and contact history on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from gateway.store import Store
from gateway.store.keys import hash_secret
from gateway.store.models import Call, Session
from tests.gateway.store.test_store_backends import store  # noqa: F401 - the fixture

NOW = datetime(2026, 1, 26, 12, 0, tzinfo=UTC)


async def _session(db: Store, assistant_id: int, *, contact_id: int | None = None,
                   at: datetime = NOW, reason: str | None = None) -> Session:  # fmt: skip
    row = Session(
        id=str(uuid.uuid4()),
        assistant_id=assistant_id,
        contact_id=contact_id,
        mode="voice",
        channel="phone",
        status="ended" if reason else "pending",
        language_code="en-US",
        meta={},
        created_at=at,
        expires_at=at + timedelta(minutes=5),
        end_reason=reason,
        total_turns=0,
    )
    return await db.sessions.add(row)


def _call(session_id: str, sid: str = "CA" + "1" * 32) -> Call:
    return Call(
        call_sid=sid,
        carrier="twilio",
        session_id=session_id,
        to_number="+15550002222",
        status="ringing",
        status_order=0,
        transfer_requested=False,
        media_token_hash=hash_secret("tok"),
        media_token_expires_at=NOW + timedelta(seconds=60),
        created_at=NOW,
        updated_at=NOW,
    )


async def test_phone_numbers_are_unique_and_editable(store: Store) -> None:  # noqa: F811
    assistant = await store.assistants.create({"name": "a"}, NOW)
    fields = {"number": "+15550002222", "assistant_id": assistant.id, "carrier": "twilio"}
    row = await store.numbers.create(fields, NOW)
    assert row is not None
    assert row.enabled
    assert await store.numbers.create(fields, NOW) is None
    updated = await store.numbers.update(row.id, {"enabled": False, "label": "Main"}, NOW)
    assert updated is not None
    found = await store.numbers.get_by_number("+15550002222")
    assert found is not None
    assert (found.enabled, found.label) == (False, "Main")
    rows, total = await store.numbers.search(limit=10, offset=0)
    assert (len(rows), total) == (1, 1)
    assert await store.numbers.delete(row.id)
    assert not await store.numbers.delete(row.id)


async def test_call_sid_is_stored_once_and_token_redeems_once(store: Store) -> None:  # noqa: F811
    assistant = await store.assistants.create({"name": "a"}, NOW)
    first = await _session(store, assistant.id)
    second = await _session(store, assistant.id)
    assert await store.calls.add(_call(first.id))
    assert not await store.calls.add(_call(second.id))  # same CallSid: the first one stays
    found = await store.calls.get_by_sid("CA" + "1" * 32)
    assert found is not None
    assert found.session_id == first.id
    sid, token = found.call_sid, hash_secret("tok")
    assert not await store.calls.redeem_media_token(sid, second.id, token, NOW)
    assert not await store.calls.redeem_media_token(sid, first.id, hash_secret("x"), NOW)
    late = NOW + timedelta(seconds=60)
    assert not await store.calls.redeem_media_token(sid, first.id, token, late)
    wins = await asyncio.gather(
        *(store.calls.redeem_media_token(sid, first.id, token, NOW) for _ in range(5))
    )
    winners = [w for w in wins if w is not None]
    assert [w.id for w in winners] == [first.id]


async def test_call_status_only_moves_forward(store: Store) -> None:  # noqa: F811
    assistant = await store.assistants.create({"name": "a"}, NOW)
    session = await _session(store, assistant.id)
    await store.calls.add(_call(session.id))
    sid = "CA" + "1" * 32
    assert await store.calls.record_status(sid, "completed", 4_000_002, 42, NOW)
    assert not await store.calls.record_status(sid, "in-progress", 3_000_001, None, NOW)
    assert not await store.calls.record_status(sid, "completed", 4_000_002, 42, NOW)
    row = await store.calls.get_by_session(session.id)
    assert row is not None
    assert (row.status, row.duration_s) == ("completed", 42)
    assert await store.calls.request_transfer(session.id, NOW)
    assert not await store.calls.request_transfer(str(uuid.uuid4()), NOW)


async def test_contact_history_and_rename(store: Store) -> None:  # noqa: F811
    assistant = await store.assistants.create({"name": "a"}, NOW)
    contact = await store.contacts.record_session("+15550001111", NOW)
    older = await _session(store, assistant.id, contact_id=contact.id, reason="client_stop")
    later = NOW + timedelta(hours=1)
    newer = await _session(store, assistant.id, contact_id=contact.id, at=later, reason="x")
    current = await _session(store, assistant.id, contact_id=contact.id, at=later + timedelta(1))
    found, count, last = await store.contacts.history(contact.id, current)
    assert found is not None and found.id == contact.id
    assert count == 2
    assert last is not None
    assert last.id == newer.id
    found, count, last = await store.contacts.history(contact.id, older)
    assert (count, last) == (0, None)
    assert await store.contacts.history(contact.id + 1000, older) == (None, 0, None)
    sessions = await store.contacts.sessions(contact.id, limit=2)
    assert [s.id for s in sessions] == [current.id, newer.id]
    renamed = await store.contacts.rename(contact.id, "Ana")
    assert renamed is not None
    assert renamed.name == "Ana"
    assert await store.contacts.rename(999, "x") is None
    rows, total = await store.contacts.search(phone_number="+15550001111", limit=5, offset=0)
    assert (total, rows[0].name) == (1, "Ana")
    rows, total = await store.contacts.search(phone_number="+15559999999", limit=5, offset=0)
    assert (rows, total) == ([], 0)
