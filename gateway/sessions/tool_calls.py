"""The model's tool calls in a session: built-ins answered where the plan says, the rest by
webhook, each in its own task so a slow webhook never holds up the conversation.

A call the model withdraws (``ToolCallsCancelled``) has its task cancelled; nothing is sent back.
Any failure reaches the model as ``{"error": ...}``, so a turn never hangs on a tool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from gateway.sessions.plan import SessionPlan
from gateway.sessions.port import SessionClient
from kinds.clock import Clock
from providers.base import ProviderSession
from providers.events import ToolCall
from providers.toolkit.deadline import within

log = logging.getLogger(__name__)

WebhookHandler = Callable[[ToolCall], Awaitable[dict[str, Any]]]
"""Answers a call through the assistant's webhook for that tool."""
Hold = Callable[[Awaitable[dict[str, Any]], str], Awaitable[dict[str, Any]]]
"""Awaits a tool's answer (the tool named), keeping the caller company meanwhile
(``DeadAir.hold_tool``)."""


async def _no_hold(work: Awaitable[dict[str, Any]], tool: str) -> dict[str, Any]:
    return await work


class ToolCalls:
    """Runs one session's tool calls; owned by its Conversation (tasks in its task group)."""

    def __init__(
        self,
        plan: SessionPlan,
        provider: ProviderSession,
        client: SessionClient,
        webhooks: WebhookHandler | None,
        end_after_response: Callable[[str], None],
        *,
        hold: Hold = _no_hold,
    ) -> None:
        self._hold = hold
        self._plan = plan
        self._provider = provider
        self._client = client
        self._webhooks = webhooks
        self._end_after_response = end_after_response
        self._group: asyncio.TaskGroup | None = None
        self._running: dict[str, asyncio.Task[None]] = {}  # by call id
        self._builtins: set[str] = set()  # call ids of built-ins still being answered

    def start(self, group: asyncio.TaskGroup) -> None:
        self._group = group

    def use(self, provider: ProviderSession) -> None:
        """After a failover: calls still running answer the new provider (which will not
        know them, and drops the answer)."""
        self._provider = provider

    def call(self, call: ToolCall) -> None:
        if self._group is None:
            return
        task = self._group.create_task(self._run(call), name="conversation-tool")
        self._running[call.call_id] = task
        if self._plan.builtin(call.name) is not None:
            self._builtins.add(call.call_id)
        task.add_done_callback(lambda _: self._forget(call.call_id, task))

    def cancel(self, call_ids: tuple[str, ...]) -> None:
        """The model withdrew these calls: abandon their work (the result has no taker)."""
        for call_id in call_ids:
            task = self._running.get(call_id)
            if task is not None and not task.done():
                log.info("tool call cancelled by the model", extra={"call_id": call_id})
                task.cancel()

    def cancel_all(self) -> None:
        for task in self._running.values():
            task.cancel()

    async def settle_builtins(self, clock: Clock, timeout_s: float) -> None:
        """Wait (bounded) for built-ins still being answered: ``end_call`` or a transfer called
        in a response decides what happens when that response ends, even when its
        ``ResponseDone`` comes straight behind the call."""
        pending = [
            task
            for call_id, task in self._running.items()
            if call_id in self._builtins and not task.done()
        ]
        if pending:
            settled = asyncio.gather(*pending, return_exceptions=True)
            with contextlib.suppress(TimeoutError):
                await within(clock, timeout_s, asyncio.shield(settled))

    def _forget(self, call_id: str, task: asyncio.Task[None]) -> None:
        if self._running.get(call_id) is task:
            del self._running[call_id]
            self._builtins.discard(call_id)

    async def _run(self, call: ToolCall) -> None:
        try:
            result = await self._hold(self._answer(call), call.name)
            await self._provider.send_tool_result(call.call_id, result)
        except Exception:
            log.exception("tool result not delivered", extra={"tool": call.name})

    async def _answer(self, call: ToolCall) -> dict[str, Any]:
        builtin = self._plan.builtin(call.name)
        try:
            if builtin is not None and builtin.answered_by == "client":
                return await self._client.answer_tool(call)
            if builtin is not None:
                return self._answer_in_engine(call)
            if self._webhooks is None:
                return {"error": f"tool {call.name!r} is not available"}
            return await self._webhooks(call)
        except Exception as exc:
            log.warning("tool failed", extra={"tool": call.name})
            return {"error": f"tool {call.name!r} failed: {type(exc).__name__}"}

    def _answer_in_engine(self, call: ToolCall) -> dict[str, Any]:
        # ``end_session`` is the only built-in the engine answers: the goodbye is heard first.
        self._end_after_response("assistant_ended")
        return {"ok": True}
