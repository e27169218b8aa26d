"""Row 19: 50 sessions writing transcripts at once on the default SQLite store, while another
process's writer keeps taking the file's write lock: no "database is locked" reaches anyone,
and every turn is a row."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import threading
import time
from typing import Any

import pytest
from sqlalchemy import make_url

from tests.gateway.conftest import Gateway
from tests.gateway.ws_helpers import closed, connect, receive, receive_until

WRITERS = 50
MESSAGES = 4
TURNS_EACH = 1 + 2 * MESSAGES  # the greeting, then a user and an assistant turn per message
LOCK_HOLD_S = 0.02


def _hold_the_write_lock(path: str, stop: threading.Event, held: list[int]) -> None:
    """Another process's writer (the admin CLI, a second node at start): it takes the write
    lock again and again, so the gateway's writers must wait for it, not fail."""
    db = sqlite3.connect(path, timeout=5, isolation_level=None)
    try:
        while not stop.is_set():
            db.execute("BEGIN IMMEDIATE")
            time.sleep(LOCK_HOLD_S)
            db.execute("COMMIT")
            held[0] += 1
            time.sleep(LOCK_HOLD_S)
    finally:
        db.close()


async def _converse(gateway: Gateway, key: str, index: int) -> tuple[str, list[dict[str, Any]]]:
    created = await gateway.create_session(key, mode="chat")
    ws = await connect(gateway, created)
    seen = [await receive(ws)]
    seen += (await receive_until(ws, "turnComplete"))[1]  # the greeting
    for n in range(MESSAGES):
        await ws.send_str(json.dumps({"type": "textMessage", "text": f"writer {index} {n}"}))
        seen += (await receive_until(ws, "turnComplete"))[1]
    await ws.send_str(json.dumps({"type": "stopSession"}))
    assert await closed(ws) == 1000
    return created["session_id"], seen


@pytest.mark.slow
async def test_fifty_writers_never_see_database_is_locked(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    url = make_url(gateway.ctx.settings.database_url)
    if url.get_backend_name() != "sqlite" or not url.database:
        pytest.skip("the row is about the default SQLite store")
    caplog.set_level(logging.WARNING)
    stop, held = threading.Event(), [0]
    other = threading.Thread(target=_hold_the_write_lock, args=(url.database, stop, held))
    other.start()
    try:
        key = await gateway.create_key(["sessions:create"], rate_limit=10 * WRITERS)
        results = await asyncio.gather(*(_converse(gateway, key, i) for i in range(WRITERS)))
        await gateway.ctx.transcripts.drain()
    finally:
        stop.set()
        other.join()
    assert held[0] > 0, "the other writer never took the lock"
    errors = [m for _, seen in results for m in seen if m["type"] == "sessionError"]
    assert errors == []
    locked = [r.getMessage() for r in caplog.records if "locked" in r.getMessage().lower()]
    failed = [r.getMessage() for r in caplog.records if "write failed" in r.getMessage()]
    assert (locked, failed) == ([], [])
    with sqlite3.connect(url.database) as db:
        rows = dict(db.execute("SELECT session_id, count(*) FROM turns GROUP BY session_id"))
    assert {session_id: rows.get(session_id) for session_id, _ in results} == {
        session_id: TURNS_EACH for session_id, _ in results
    }
    print(f"{WRITERS} writers, {WRITERS * TURNS_EACH} turns stored; the other writer took "
          f"the lock {held[0]} times")  # fmt: skip
