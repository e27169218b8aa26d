"""The Redis control bus and the lost-session sweeper, between simulated nodes in one process.

Each "node" has its own Redis client, directory and bus; they share one key prefix and one
SQLite store, as real nodes share Redis and the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from gateway.state.redis_bus import RedisControlBus
from gateway.state.redis_directory import RedisSessionDirectory
from gateway.state.sweeper import LostSessionSweeper
from gateway.store import Store
from gateway.store.models import Session
from kinds.clock import Clock, SystemClock
from tests.gateway.state.conftest import LinkFactory, eventually
from tests.redis_process import private_redis
from tests.virtual_clock import VirtualClock

pytestmark = pytest.mark.redis


@dataclass
class Node:
    """One simulated node: its directory, its bus, and the end requests its handler got."""

    name: str
    directory: RedisSessionDirectory
    bus: RedisControlBus
    ended: asyncio.Queue[tuple[str, str]] = field(default_factory=asyncio.Queue)

    async def handle(self, session_id: str, reason: str) -> bool:
        if session_id not in self.directory.held:
            return False
        self.ended.put_nowait((session_id, reason))
        return True


def _node(redis_links: LinkFactory, name: str, clock: Clock | None = None) -> Node:
    clock = clock or SystemClock()
    link = redis_links(clock)
    directory = RedisSessionDirectory(link, ttl_s=15.0, clock=clock)
    node = Node(name, directory, RedisControlBus(link, name, directory, clock))
    node.bus.on_end(node.handle)
    return node


@contextlib.asynccontextmanager
async def _listening(*nodes: Node) -> AsyncIterator[None]:
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(n.bus.listen_forever()) for n in nodes]
        async with asyncio.timeout(5):
            for node in nodes:
                await node.bus.listening.wait()
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    store = Store.open(f"sqlite+aiosqlite:///{tmp_path / 'kura.db'}")
    await store.migrate()
    yield store
    await store.aclose()


async def _active_session(store: Store, clock: Clock, connected_ago_s: float = 60.0) -> str:
    now = clock.now()
    assistant = await store.assistants.create({"name": "a"}, now)
    row = Session(
        id=str(uuid.uuid4()),
        assistant_id=assistant.id,
        mode="chat",
        channel="api",
        status="active",
        language_code="en-US",
        meta={},
        created_at=now - timedelta(seconds=connected_ago_s),
        connected_at=now - timedelta(seconds=connected_ago_s),
        expires_at=now + timedelta(minutes=5),
        total_turns=0,
    )
    await store.sessions.add(row)
    return row.id


async def test_an_end_request_reaches_the_owning_node_within_a_second(
    redis_links: LinkFactory,
) -> None:
    a, b = _node(redis_links, "node-a"), _node(redis_links, "node-b")
    await b.directory.claim("s1", "node-b")
    async with _listening(a, b):
        started = time.monotonic()
        assert await a.bus.request_end("s1", "api_delete")
        async with asyncio.timeout(1):
            assert await b.ended.get() == ("s1", "api_delete")
        assert time.monotonic() - started < 1
        assert not await a.bus.request_end("unknown", "api_delete")  # nobody owns it
    assert a.ended.empty()


async def test_a_missed_message_is_caught_by_polling_the_database(
    redis_links: LinkFactory, store: Store
) -> None:
    a, b = _node(redis_links, "node-a"), _node(redis_links, "node-b")
    session_id = await _active_session(store, SystemClock())
    await b.directory.claim(session_id, "node-b")
    # b is not listening (its pub/sub link is down): the request reaches no one...
    assert not await a.bus.request_end(session_id, "api_delete")
    assert await b.bus.poll_once(store) == 0  # the row is still active
    # ...but the DELETE path finishes the row, and b's next poll ends the session.
    await store.sessions.finish(session_id, "api_delete", SystemClock().now())
    assert await b.bus.poll_once(store) == 1
    assert b.ended.get_nowait() == (session_id, "api_delete")


async def test_the_listener_resubscribes_after_redis_restarts(
    tmp_path: Path, redis_prefix: str
) -> None:
    from gateway.state.redis_link import REDIS_ERRORS, RedisLink, open_redis

    with private_redis(tmp_path) as server:
        links = [
            RedisLink(
                open_redis(server.url),
                redis_prefix,
                SystemClock(),
                subscriber=open_redis(server.url),
            )
            for _ in "ab"
        ]
        nodes = []
        for name, link in zip(("node-a", "node-b"), links, strict=True):
            directory = RedisSessionDirectory(link, ttl_s=15.0, clock=SystemClock())
            nodes.append(
                Node(name, directory, RedisControlBus(link, name, directory, SystemClock()))
            )
            nodes[-1].bus.on_end(nodes[-1].handle)
        a, b = nodes
        await b.directory.claim("s1", "node-b")
        async with _listening(a, b):
            server.kill()

            async def both_lost() -> bool:
                return not (a.bus.listening.is_set() or b.bus.listening.is_set())

            await eventually(both_lost)
            server.start()  # empty: b's claim is gone until its next refresh

            async def refreshed() -> bool:  # as b's refresher task does, tick after tick
                try:
                    await b.directory.refresh()
                except REDIS_ERRORS:
                    return False  # a pooled connection that died with the old server
                return True

            await eventually(refreshed)
            async with asyncio.timeout(10):  # the listeners' backoff is at most 5 s
                await a.bus.listening.wait()
                await b.bus.listening.wait()
            assert await a.bus.request_end("s1", "api_delete")
            async with asyncio.timeout(1):
                assert await b.ended.get() == ("s1", "api_delete")
        for link in links:
            await link.aclose()


async def test_sessions_of_a_lost_node_are_swept_once_confirmed(
    redis_links: LinkFactory, store: Store
) -> None:
    clock = VirtualClock()
    a, b = _node(redis_links, "node-a", clock), _node(redis_links, "node-b", clock)
    lost = await _active_session(store, clock)
    alive_elsewhere = await _active_session(store, clock)
    held_here = await _active_session(store, clock)
    young = await _active_session(store, clock, connected_ago_s=1)  # still connecting
    await b.directory.claim(alive_elsewhere, "node-b")
    await a.directory.claim(held_here, "node-a")
    sweeper = LostSessionSweeper(store, a.directory, clock, ttl_s=15.0, confirm_s=10.0)
    assert await sweeper.sweep_once() == []  # first seen unowned: not yet
    await clock.advance(5)
    assert await sweeper.sweep_once() == []
    await clock.advance(5)
    assert await sweeper.sweep_once() == [lost]
    for session_id, status in [(lost, "ended"), (alive_elsewhere, "active"), (held_here, "active"),
                               (young, "active")]:  # fmt: skip
        row = await store.sessions.get(session_id)
        assert row is not None
        assert row.status == status
    row = await store.sessions.get(lost)
    assert row is not None and row.end_reason == "node_lost"


async def test_a_claim_restored_before_confirmation_is_not_swept(
    redis_links: LinkFactory, store: Store
) -> None:
    """An empty (restarted) Redis shows every session unowned until owners refresh."""
    clock = VirtualClock()
    a, b = _node(redis_links, "node-a", clock), _node(redis_links, "node-b", clock)
    session_id = await _active_session(store, clock)
    await b.directory.claim(session_id, "node-b")
    link = redis_links()
    await link.client.delete(link.key("owner", session_id))  # the restart
    sweeper = LostSessionSweeper(store, a.directory, clock, ttl_s=15.0, confirm_s=10.0)
    assert await sweeper.sweep_once() == []
    await b.directory.refresh()  # b's refresher runs within one refresh interval
    await clock.advance(10)
    assert await sweeper.sweep_once() == []
    row = await store.sessions.get(session_id)
    assert row is not None and row.status == "active"


async def test_the_sweep_gives_back_a_lost_calls_slots(
    redis_links: LinkFactory, store: Store
) -> None:
    from gateway.state.call_slots import RedisCallSlots

    clock = VirtualClock()
    a = _node(redis_links, "node-a", clock)
    slots = RedisCallSlots(redis_links(clock), clock)
    lost = await _active_session(store, clock)
    assert await slots.acquire(lost, {"global": 1, "assistant:1": 1}, 3600) is None
    sweeper = LostSessionSweeper(store, a.directory, clock, ttl_s=15.0, confirm_s=10.0, slots=slots)
    assert await sweeper.sweep_once() == []
    assert await slots.count("global") == 1
    await clock.advance(10)
    assert await sweeper.sweep_once() == [lost]
    assert await slots.count("global") == 0
    assert await slots.count("assistant:1") == 0
