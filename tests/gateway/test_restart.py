"""A lone node (no Redis) ends, at start, the sessions a crash left marked active."""

from __future__ import annotations

from pathlib import Path

import pytest

from kinds.clock import SystemClock
from tests.gateway.conftest import start_gateway


async def test_sessions_left_active_by_a_crash_are_ended_at_start(tmp_path: Path) -> None:
    first = start_gateway(tmp_path, SystemClock())
    gw = await anext(first)
    created = await gw.create_session(mode="chat")
    row = await gw.ctx.store.sessions.get(created["session_id"])
    assert row is not None
    await gw.ctx.sessions.claim(row)  # connected, then the process "dies" without ending it
    second = start_gateway(tmp_path, SystemClock())
    restarted = await anext(second)
    view = await restarted.request("GET", f"/api/v1/sessions/{created['session_id']}")
    body = await view.json()
    assert (body["status"], body["end_reason"]) == ("ended", "node_restarted")
    await second.aclose()
    await first.aclose()


@pytest.mark.postgres
async def test_readiness_fails_when_the_database_does(tmp_path: Path) -> None:
    from tests.conftest import drop_postgres_database, fresh_postgres_database

    url, name = await fresh_postgres_database()
    running = start_gateway(tmp_path, SystemClock(), database_url=url)
    gw = await anext(running)
    try:
        ready = await gw.request("GET", "/api/v1/health/ready", key=None)
        assert ready.status == 200
        await drop_postgres_database(name)  # WITH (FORCE): every connection is cut
        ready = await gw.request("GET", "/api/v1/health/ready", key=None)
        assert ready.status == 503
        body = await ready.json()
        assert body["checks"]["database"] != "ok"
        live = await gw.request("GET", "/api/v1/health/live", key=None)
        assert live.status == 200  # the process is alive; it just should not get traffic
    finally:
        await running.aclose()
        await drop_postgres_database(name)
