"""The event outbox's claims: racing workers never send one event twice; leases lapse."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateway.store.models import OutboxEvent
from kinds.clock import SystemClock
from tests.gateway.conftest import start_gateway

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def _event(n: int) -> OutboxEvent:
    return OutboxEvent(
        id=f"00000000-0000-4000-8000-{n:012d}",
        type="session.ended",
        url="http://127.0.0.1:9/events",
        body={"n": n},
        created_at=NOW,
        attempts=0,
        next_attempt_at=NOW,
    )


async def test_racing_claims_share_the_events_out_once(tmp_path: Path) -> None:
    running = start_gateway(tmp_path, SystemClock())
    gw = await anext(running)
    try:
        outbox = gw.ctx.store.outbox
        for n in range(60):
            await outbox.add(_event(n))
        lease = NOW + timedelta(seconds=60)
        claims = await asyncio.gather(
            *(outbox.claim(f"node-{k}", NOW, lease, limit=10) for k in range(8))
        )
        taken = Counter(row.id for rows in claims for row in rows)
        assert len(taken) == 60 and set(taken.values()) == {1}  # every one, once
        assert await outbox.claim("late", NOW, lease, limit=10) == []  # all leased
        later = NOW + timedelta(seconds=61)  # a node died: its leases lapse
        again = await outbox.claim("survivor", later, later + timedelta(seconds=60), limit=100)
        assert len(again) == 60
        await outbox.delivered(again[0].id, later)
        await outbox.release("survivor")  # a stopping node hands the rest back
        rest = await outbox.claim("next", later, later + timedelta(seconds=60), limit=100)
        assert len(rest) == 59 and again[0].id not in {row.id for row in rest}
    finally:
        await running.aclose()
