"""A slow tool on a call (issue #20): a holding line after 800 ms, another after each 800 ms of
silence, so the caller never hears more than ~1 s of silence while a tool runs. Virtual clock;
the recording client's cues last ``cue_seconds`` (1 s)."""

from __future__ import annotations

import asyncio
from typing import Any

from gateway.sessions.conversation import ConversationLimits
from gateway.telephony.bridge_ports import call_traits
from gateway.telephony.twilio_codec import CAPABILITIES as TWILIO
from providers.events import ToolCall
from tests.gateway.sessions.harness import Harness, engine, waited

CALL_TRAITS = call_traits(TWILIO)


def slow_webhook(done: asyncio.Event) -> Any:
    async def answer(call: ToolCall) -> dict[str, Any]:
        await done.wait()
        return {"slots": ["9:00"]}

    return answer


def longest_silence(h: Harness, start_s: float, end_s: float) -> float:
    """Between ``start_s`` and ``end_s``, given cues of ``cue_seconds`` played back to back."""
    longest, cursor = 0.0, start_s
    for at_s, _ in h.client.cues:
        begins = max(at_s, cursor)
        longest = max(longest, begins - cursor)
        cursor = begins + h.client.cue_seconds
    return max(longest, end_s - cursor)


async def run_until(h: Harness, seconds: float) -> None:
    for _ in range(round(seconds / 0.05)):
        await h.clock.advance(0.05)


async def test_a_slow_tool_gets_holding_lines_and_never_more_than_1_s_of_silence() -> None:
    done = asyncio.Event()
    async with engine(traits=CALL_TRAITS, webhooks=slow_webhook(done)) as h:
        start = h.clock.monotonic()
        h.provider.emit(ToolCall("c1", "find_slots", {}))
        await h.settled()
        await run_until(h, 4.0)  # the webhook takes 4 s
        done.set()
        assert await waited(h.provider.next_tool_result()) == ("c1", {"slots": ["9:00"]})
        await run_until(h, 2.0)
    cues = [cue for _, cue in h.client.cues]
    assert cues == ["tool", "holding"]  # at 0.8 s and 2.6 s (the next, 4.4 s, is past the end)
    assert round(h.client.cues[0][0] - start, 3) == 0.8
    assert longest_silence(h, start, start + 4.0) <= 1.0  # measured: 0.8 s


async def test_a_quick_tool_gets_no_holding_line() -> None:
    done = asyncio.Event()
    async with engine(traits=CALL_TRAITS, webhooks=slow_webhook(done)) as h:
        h.provider.emit(ToolCall("c1", "find_slots", {}))
        await h.settled()
        await run_until(h, 0.7)
        done.set()
        await waited(h.provider.next_tool_result())
        await run_until(h, 2.0)
    assert h.client.cues == []


async def test_the_holding_line_is_configurable_per_tool() -> None:
    done = asyncio.Event()
    limits = ConversationLimits(tool_hold_after_s_by_tool={"find_slots": None, "book": 0.3})
    async with engine(traits=CALL_TRAITS, webhooks=slow_webhook(done), limits=limits) as h:
        h.provider.emit(ToolCall("c1", "find_slots", {}))
        await h.settled()
        await run_until(h, 2.0)
        assert h.client.cues == []  # never for this tool
        start = h.clock.monotonic()
        h.provider.emit(ToolCall("c2", "book", {}))
        await h.settled()
        await run_until(h, 0.5)
        done.set()
    assert [cue for _, cue in h.client.cues] == ["tool"]
    assert round(h.client.cues[0][0] - start, 2) == 0.3


async def test_a_chat_gets_no_cues() -> None:
    done = asyncio.Event()
    async with engine(webhooks=slow_webhook(done), mode="chat") as h:
        h.provider.emit(ToolCall("c1", "find_slots", {}))
        await h.settled()
        await run_until(h, 3.0)
        done.set()
    assert h.client.cues == []
