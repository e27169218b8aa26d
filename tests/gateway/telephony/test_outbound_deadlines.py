"""The hard ``max_duration_s``: a call is hung up on time when nothing else answers.

On the virtual clock: time moves only when the test says, so "on time" is exact here and the
overshoot in real time is what ``scripts/simulate_call.py --outbound`` measures.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from providers.events import AgentAudio
from tests.gateway.telephony.outbound_fixtures import Outbound, outbound_gateway, until
from tests.virtual_clock import VirtualClock

AGENT_PCM_1S = b"\x10\x27" * 24_000  # a second of a loud constant at 24 kHz


@pytest.fixture
async def timed(tmp_path: Path) -> AsyncIterator[Outbound]:
    async for line in outbound_gateway(tmp_path, VirtualClock()):
        yield line


def _clock(line: Outbound) -> VirtualClock:
    clock = line.gateway.clock
    assert isinstance(clock, VirtualClock)
    return clock


async def test_a_call_whose_stream_never_opens_is_hung_up_on_time(timed: Outbound) -> None:
    created, placed = await timed.place(max_duration_s=30)
    assert placed.form["TimeLimit"] == "35"
    await timed.carrier.answer(placed)  # answered, but no media stream ever comes
    clock = _clock(timed)
    await clock.advance(29.9)
    assert placed.updates == []
    await clock.advance(0.2)
    await until(lambda: placed.updates)
    assert placed.updates[0]["Status"] == "completed"
    view = await timed.get(created["id"])
    assert view["end_reason"] == "max_duration"


async def test_a_stalled_provider_and_marks_that_never_return(timed: Outbound) -> None:
    gw = timed.gateway
    assistant_id = await gw.use_scripted_assistant()
    created, placed = await timed.place(assistant_id=assistant_id, max_duration_s=12)
    stream = await timed.open_stream(placed)
    await asyncio.wait_for(gw.scripted.connected.wait(), 5)
    session = gw.scripted.sessions[-1]
    # The agent speaks a long turn; the carrier never plays it, so no mark ever comes back,
    # and then the provider goes silent for good.
    session.emit(AgentAudio(audio=AGENT_PCM_1S * 20, item_id="item-1"))
    await stream.wait_for_audio(8000)
    clock = _clock(timed)
    for _ in range(3):  # the carrier keeps streaming (so its own watchdog stays quiet)
        await clock.advance(4.0)
        await stream.send_ulaw(b"\xff" * 160)
    await clock.advance(0.1)
    await until(lambda: placed.updates)
    assert placed.updates[0]["Status"] == "completed"
    view = await timed.get(created["id"])
    assert view["end_reason"] == "max_duration"
    await until(lambda: gw.ctx.live.__len__() == 0)
    stored = await gw.ctx.store.sessions.get(created["session_id"])
    assert stored is not None and stored.status == "ended"
    assert stored.end_reason == "max_duration"
