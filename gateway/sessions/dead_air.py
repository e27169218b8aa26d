"""No dead air: what the caller is owed, and the prerecorded lines (cues) that fill a wait.

The engine tells ``DeadAir`` what happens (the caller's turn ended, the agent spoke, a response
ended) and asks it to cover two waits:

- a provider that reconnects after a fault (``ProviderRecovering``): while the caller is owed
  an answer or the agent was speaking, a holding line plays at once;
- a tool that has not answered in ``tool_hold_after_s``: a holding line plays, and another
  whenever the caller has again heard that long of silence, until the tool answers.

The client says how long each cue it played lasts (``SessionClient.play_cue``), so the engine
knows when the caller's silence starts again without guessing at the playout.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from gateway.sessions.port import Cue, SessionClient
from kinds.clock import Clock
from providers.base import ProviderSession
from providers.events import ProviderRecovering
from providers.toolkit.deadline import within

T = TypeVar("T")

TOOL_HOLD_AFTER_S = 0.8
"""A tool that has not answered in this long gets a holding line (issue #20)."""
CONNECT_HOLD_AFTER_S = 1.5
"""A provider not connected this long after the client is: the caller hears a holding line
while the connect goes on (its attempts end within the provider's own budget)."""


async def hold_connect(
    clock: Clock,
    client: SessionClient,
    connecting: Coroutine[Any, Any, ProviderSession],
    *,
    hold_after_s: float = CONNECT_HOLD_AFTER_S,
) -> ProviderSession:
    """``connecting``'s session; the caller hears a holding line if it is slow."""
    task = asyncio.ensure_future(connecting)
    try:
        await within(clock, hold_after_s, asyncio.shield(task))
    except TimeoutError:
        await client.play_cue("holding")
    except BaseException:
        task.cancel()
        raise
    try:
        return await task
    except asyncio.CancelledError:
        task.cancel()
        raise


@dataclass(frozen=True, slots=True)
class ToolHolds:
    """After how long a tool gets a holding line: ``default_s``, or per tool name (None:
    never); ``on`` False (a chat) turns them all off."""

    default_s: float | None = TOOL_HOLD_AFTER_S
    by_tool: Mapping[str, float | None] = field(default_factory=dict)
    on: bool = True

    def after_s(self, tool: str) -> float | None:
        if not self.on:
            return None
        return self.by_tool.get(tool, self.default_s)


def tool_holds(tools: list[Any]) -> dict[str, float | None]:
    """Each stored tool's own ``holding_line_after_ms``, where it sets one (0: never)."""
    holds: dict[str, float | None] = {}
    for tool in tools:
        after_ms = tool.get("holding_line_after_ms")
        if after_ms is not None:
            holds[tool["name"]] = after_ms / 1000 if after_ms else None
    return holds


class DeadAir:
    """One session's bookkeeping of silence the caller hears; owned by its Conversation."""

    def __init__(
        self,
        client: SessionClient,
        clock: Clock,
        *,
        owed_at_start: bool = False,
        holds: ToolHolds | None = None,
    ) -> None:
        self._client = client
        self._clock = clock
        self._owed = owed_at_start
        self._holds = holds or ToolHolds()
        self._heard_until_s = clock.monotonic()  # the end of the last audio known to be queued
        self.cues: list[Cue] = []

    @property
    def owed(self) -> bool:
        """The caller is waiting for the assistant to speak."""
        return self._owed

    def caller_waits(self) -> None:
        """The caller finished a turn (or typed, or a tool answered): an answer is owed."""
        self._owed = True

    def caller_speaks(self) -> None:
        self._owed = False

    def agent_spoke(self, duration_s: float) -> None:
        """Agent audio lasting ``duration_s`` went to the client (it plays after what is
        queued, in real time)."""
        self._owed = False
        self._heard_until_s = max(self._heard_until_s, self._clock.monotonic()) + duration_s

    def response_done(self) -> None:
        self._owed = False

    async def recovering(self, event: ProviderRecovering, *, responding: bool) -> None:
        """The provider is reconnecting: a holding line if the caller would notice."""
        if event.fault and (self._owed or responding):
            await self.play("holding")

    async def play(self, cue: Cue) -> None:
        played_s = await self._client.play_cue(cue)
        if played_s > 0:
            self.cues.append(cue)
            start_s = max(self._heard_until_s, self._clock.monotonic())
            self._heard_until_s = start_s + played_s

    async def hold_tool(self, work: Awaitable[T], tool: str) -> T:
        """A tool's answer, with holding lines while it is slow; then a reply is owed."""
        result = await self.hold_while(work, self._holds.after_s(tool))
        self.caller_waits()
        return result

    async def hold_while(self, work: Awaitable[T], after_s: float | None) -> T:
        """``work``'s result; while it runs, a holding line whenever the caller has heard
        ``after_s`` of silence (the first the tool line, then the short one)."""
        task = asyncio.ensure_future(work)
        if not after_s:
            return await task
        cue: Cue = "tool"
        try:
            while not task.done():
                silent_from_s = max(self._heard_until_s, self._clock.monotonic())
                wait_s = silent_from_s + after_s - self._clock.monotonic()
                with contextlib.suppress(TimeoutError):
                    await within(self._clock, wait_s, asyncio.shield(task))
                    break
                if self._heard_until_s <= self._clock.monotonic():
                    await self.play(cue)
                    cue = "holding"
        finally:
            if not task.done():
                task.cancel()
        return await task
