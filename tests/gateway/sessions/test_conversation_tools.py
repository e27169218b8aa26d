"""Tool calls in the engine: built-ins answered on the side the plan says, the rest by webhook,
each in its own task (a slow webhook holds nothing up; a withdrawn one is cancelled)."""

from __future__ import annotations

import asyncio
from typing import Any

from gateway.sessions.port import EndAfterResponse, EndSession
from gateway.telephony.bridge_ports import call_traits
from gateway.telephony.twilio_codec import CAPABILITIES as TWILIO
from providers.events import ResponseDone, ToolCall, ToolCallsCancelled, TranscriptDelta
from tests.gateway.sessions.harness import Harness, engine, waited

CALL_TRAITS = call_traits(TWILIO)


async def test_an_apps_end_session_is_answered_by_the_engine_after_the_goodbye() -> None:
    """Port of test_end_call_tool_ends_after_the_goodbye (the app's built-in)."""
    async with engine() as h:
        assert h.plan.builtin("end_session") is not None
        h.provider.emit(ToolCall("call1", "end_session", {}), TranscriptDelta("output", "Bye!"))
        assert await waited(h.provider.next_tool_result()) == ("call1", {"ok": True})
        await h.settled()
        assert not h.conversation.ended  # the goodbye is still being given
        assert h.client.tool_calls == []
        h.provider.emit(ResponseDone("bye"))
        turn = await h.client.turn()
        assert turn.full_output == "Bye!"
        assert await h.ended() == "assistant_ended"


async def test_end_session_applies_to_the_response_that_called_it() -> None:
    """OpenAI gives a goodbye and its function call in one response: the ToolCall and the
    ResponseDone can reach the engine back to back."""
    async with engine() as h:
        h.provider.emit(
            TranscriptDelta("output", "Bye!", item_id="bye"),
            ToolCall("call1", "end_session", {}),
            ResponseDone("bye"),
        )
        await h.client.turn()
        await waited(h.provider.next_tool_result())
        assert await h.ended() == "assistant_ended"  # with this response, not the next


async def test_a_calls_end_call_is_answered_by_the_client_not_the_engine() -> None:
    async def hang_up(call: ToolCall) -> dict[str, Any]:
        return {"ok": True, "hanging_up": True}

    async with engine(traits=CALL_TRAITS, answer_tool=hang_up) as h:
        assert [t.name for t in h.plan.offered_tools] == ["end_call"]
        h.provider.emit(ToolCall("c1", "end_call", {}))
        assert await waited(h.provider.next_tool_result()) == (
            "c1",
            {"ok": True, "hanging_up": True},
        )
        assert [c.name for c in h.client.tool_calls] == ["end_call"]
        h.provider.emit(TranscriptDelta("output", "Goodbye.", item_id="a1"), ResponseDone("a1"))
        await h.client.turn()
        await h.settled()
        assert not h.conversation.ended  # ending is the client's call (it plays the goodbye)


async def test_a_calls_end_call_ends_when_the_client_says_so() -> None:
    harness: list[Harness] = []

    async def hang_up_after_goodbye(call: ToolCall) -> dict[str, Any]:
        await harness[0].send(EndAfterResponse("assistant_ended"))
        return {"ok": True}

    async with engine(traits=CALL_TRAITS, answer_tool=hang_up_after_goodbye) as h:
        harness.append(h)
        h.provider.emit(ToolCall("c1", "end_call", {}))
        await waited(h.provider.next_tool_result())
        h.provider.emit(TranscriptDelta("output", "Goodbye.", item_id="a1"), ResponseDone("a1"))
        await h.client.turn()
        assert await h.ended() == "assistant_ended"


async def test_transfer_is_the_clients_only_when_the_assistant_can_transfer() -> None:
    async with engine(traits=CALL_TRAITS, can_transfer=True) as h:
        h.provider.emit(ToolCall("t1", "transfer_call", {"reason": "sales"}))
        assert await waited(h.provider.next_tool_result()) == ("t1", {"ok": True})
        assert [(c.name, c.arguments) for c in h.client.tool_calls] == [
            ("transfer_call", {"reason": "sales"})
        ]
    async with engine(traits=CALL_TRAITS) as h:
        h.provider.emit(ToolCall("t1", "transfer_call", {}))
        assert await waited(h.provider.next_tool_result()) == (
            "t1",
            {"error": "tool 'transfer_call' is not available"},
        )
        assert h.client.tool_calls == []


async def test_an_app_never_asks_its_client_to_answer_a_tool() -> None:
    async with engine() as h:
        h.provider.emit(ToolCall("c1", "end_call", {}))  # a call's built-in, not an app's
        assert await waited(h.provider.next_tool_result()) == (
            "c1",
            {"error": "tool 'end_call' is not available"},
        )
        assert h.client.tool_calls == []
        assert not h.conversation.ended


async def test_other_tools_go_to_the_webhooks() -> None:
    async def book(call: ToolCall) -> dict[str, Any]:
        return {"booked": True, "date": call.arguments["date"]}

    async with engine(traits=CALL_TRAITS, webhooks=book) as h:
        h.provider.emit(ToolCall("c1", "book", {"date": "2026-02-15"}))
        assert await waited(h.provider.next_tool_result()) == (
            "c1",
            {"booked": True, "date": "2026-02-15"},
        )
        assert [(c.call_id, c.name) for c in h.webhook_calls] == [("c1", "book")]
        assert h.client.tool_calls == []


async def test_a_failing_webhook_reaches_the_model_as_an_error() -> None:
    async def broken(call: ToolCall) -> dict[str, Any]:
        raise RuntimeError("boom")

    async with engine(webhooks=broken) as h:
        h.provider.emit(ToolCall("c1", "book", {}))
        assert await waited(h.provider.next_tool_result()) == (
            "c1",
            {"error": "tool 'book' failed: RuntimeError"},
        )


async def test_without_webhooks_a_tool_is_not_available() -> None:
    async with engine() as h:
        h.provider.emit(ToolCall("c9", "lookup", {}))
        assert await waited(h.provider.next_tool_result()) == (
            "c9",
            {"error": "tool 'lookup' is not available"},
        )


class SlowWebhook:
    """A webhook that answers ``c1`` only when released, and tells when it starts and stops."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.cancelled = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, call: ToolCall) -> dict[str, Any]:
        if call.call_id != "c1":
            return {"booked": True}
        self.started.set()
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        return {"booked": "late"}


async def test_a_withdrawn_call_cancels_its_webhook_and_the_session_goes_on() -> None:
    """Port of test_a_withdrawn_call_abandons_its_webhook."""
    hook = SlowWebhook()
    async with engine(webhooks=hook) as h:
        h.provider.emit(ToolCall("c1", "book", {}))
        await waited(hook.started.wait())
        h.provider.emit(ToolCallsCancelled(("c1", "never-called")))
        await waited(hook.cancelled.wait())
        h.provider.emit(ToolCall("c2", "book", {}))
        assert await waited(h.provider.next_tool_result()) == ("c2", {"booked": True})
        await h.settled()
        assert [call_id for call_id, _ in h.provider.tool_results] == ["c2"]


async def test_a_slow_webhook_holds_nothing_up_and_ends_with_the_session() -> None:
    hook = SlowWebhook()
    async with engine(webhooks=hook) as h:
        h.provider.emit(ToolCall("c1", "book", {}), TranscriptDelta("output", "One moment."))
        await waited(hook.started.wait())
        await h.client.until("transcriptionUpdate")
        await h.send(EndSession("client_stop"))
        assert await h.ended() == "client_stop"
        assert hook.cancelled.is_set()
        assert h.provider.tool_results == []
