"""Faults for the fake Gemini Live (reliability.md rows 8, 9, 12), injected into its default
behaviour: the fake greets, hears the caller with its energy VAD and answers, until caller turn
``at_turn`` ends, where the fault strikes instead of (or, for GoAway, beside) the reply.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from tests.fakes.gemini_live_default import LiveBehaviour, reply_parts
from tests.fakes.reply_timer import ReplyTimer

Fault = Callable[[LiveBehaviour], Awaitable[None]]


async def drop_1011(live: LiveBehaviour) -> None:
    """Row 8: a server error close after the first part of the reply."""
    part = {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": reply_parts()[0]}}
    await live.send({"serverContent": {"modelTurn": {"parts": [part]}}})
    await live.ws.close(code=1011, message=b"Internal error encountered.")


async def close_1007(live: LiveBehaviour) -> None:
    """Row 9: Gemini's "invalid argument" close, which no retry can fix."""
    await live.ws.close(code=1007, message=b"Request contains an invalid argument.")


async def go_away(live: LiveBehaviour) -> None:
    """Row 12: the reply as usual, and notice that the connection ends in 5 s."""
    await LiveBehaviour._caller_stopped(live)
    await live.send({"goAway": {"timeLeft": "5s"}})


def faulty(fault: Fault, on_fault: Callable[[], None], at_turn: int = 1) -> type[LiveBehaviour]:
    """A connection's behaviour with ``fault`` at caller turn ``at_turn``; ``on_fault`` is
    told the moment it strikes."""

    class Faulty(LiveBehaviour):
        def __init__(self, ws: web.WebSocketResponse, reply_delay_s: float, timer: ReplyTimer):
            super().__init__(ws, reply_delay_s, timer)
            self.caller_turns = 0

        async def _caller_stopped(self) -> None:
            self.caller_turns += 1
            if self.caller_turns != at_turn:
                await super()._caller_stopped()
                return
            on_fault()
            await fault(self)

    return Faulty
