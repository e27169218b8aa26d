"""The caller's side of a warm transfer: on hold on the assistant's own media stream.

The caller never leaves the ``<Connect><Stream>`` while the human is rung: the stream (and so the
provider session, with all its context) is kept, which is what lets the assistant carry on when
nobody takes the call. ``TransferLine`` sits between the ``CallBridge`` and the Conversation, as
the session's client and as its reader; while the caller is on hold it keeps the caller's audio,
turns and keys from the assistant (who would otherwise answer someone talking over the music),
and once the response that asked for the transfer is done (the assistant's "I'm connecting you",
said before the tool call) it loops the hold chime and drops any further agent audio. Off
hold, it is a plain pass-through.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from gateway.sessions.conversation import Conversation
from gateway.sessions.plan import ClientTraits, SessionPlan
from gateway.sessions.port import (
    CallerAudio,
    CallerDigit,
    CallerText,
    CallerTurnEnded,
    CallerTurnStarted,
    ClientEvent,
    Cue,
    EndSession,
    Interrupt,
)
from gateway.sessions.protocol import ServerMessage, TurnComplete
from gateway.telephony.bridge import CallBridge
from kinds.clock import Clock
from providers.events import ToolCall

log = logging.getLogger(__name__)

HELD_EVENTS = (CallerAudio, CallerDigit, CallerTurnStarted, CallerTurnEnded, Interrupt)
"""What the assistant does not get from a caller on hold."""
LINE_FIRST_S = 6.0
"""The hold chime starts when the response that asked for the transfer is done, or after this
long at the latest (that response ended before the tool answered, or is still going)."""


class _HeldSink:
    """The Conversation as the bridge sees it: the caller's events, minus those held back."""

    def __init__(self, line: TransferLine, conversation: Conversation) -> None:
        self._line = line
        self._conversation = conversation

    async def receive(self, event: ClientEvent) -> None:
        if self._line.on_hold and isinstance(event, HELD_EVENTS):
            # The carrier's frames keep coming (every 20 ms): a caller on hold is not idle.
            self._conversation.keep_alive()
            return
        await self._conversation.receive(event)


class TransferLine:
    """A ``SessionClient`` over the call's bridge that can put the caller on hold."""

    def __init__(self, bridge: CallBridge, clock: Clock) -> None:
        self._bridge = bridge
        self._clock = clock
        self._conversation: Conversation | None = None
        self._line_done = asyncio.Event()
        self._chime: asyncio.Task[None] | None = None
        self.on_hold = False

    # --- the reader: the bridge's events to the Conversation --------------------------------

    async def read(self, conversation: Conversation) -> None:
        self._conversation = conversation
        await self._bridge.read_carrier(_HeldSink(self, conversation))

    # --- hold ------------------------------------------------------------------------------

    def hold(self) -> None:
        """Put the caller on hold: the chime follows the assistant's current line."""
        if self.on_hold:
            return
        self.on_hold = True
        self._line_done.clear()
        self._chime = asyncio.create_task(self._play_chime(), name="transfer-hold")

    async def release(self, note: str | None) -> None:
        """Off hold: the chime stops at once; ``note`` (what became of the transfer) goes to the
        assistant as a text turn, so it tells the caller and carries on."""
        await self._stop_chime()
        if note is not None and self._conversation is not None:
            await self._conversation.receive(CallerText(note))

    async def hand_over(self) -> None:
        """The human took the call: the chime stops and the assistant's session ends; the
        stream closes and what follows it (the carrier's action or redirect, or a REST
        transfer) joins the caller to them."""
        await self._stop_chime()
        if self._conversation is not None:
            await self._conversation.receive(EndSession("transferred"))

    async def aclose(self) -> None:
        """The session is over: a chime still queued is dropped, so the call's last words (a
        timeout's, say) are not held up behind it."""
        await self._stop_chime()

    async def _stop_chime(self) -> None:
        was_playing = self._chime is not None and not self._chime.done()
        self.on_hold = False
        if self._chime is not None:
            self._chime.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._chime
            self._chime = None
        if was_playing:
            await self._bridge.stop_playout()

    async def _play_chime(self) -> None:
        await self._line_over()
        # Two loops queued ahead, one more as each ends: no gap, and at most two loops to clear.
        if await self._bridge.play_cue("transfer_hold") <= 0:
            return
        while (length_s := await self._bridge.play_cue("transfer_hold")) > 0:
            await self._clock.sleep(length_s)

    async def _line_over(self) -> None:
        """Until the assistant's current line is done, or ``LINE_FIRST_S`` on the clock."""
        done = asyncio.create_task(self._line_done.wait())
        late = asyncio.create_task(self._clock.sleep(LINE_FIRST_S))
        try:
            await asyncio.wait((done, late), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (done, late):
                task.cancel()
            await asyncio.gather(done, late, return_exceptions=True)

    # --- SessionClient ---------------------------------------------------------------------

    @property
    def traits(self) -> ClientTraits:
        return self._bridge.traits

    def session_planned(self, plan: SessionPlan) -> None:
        self._bridge.session_planned(plan)

    async def deliver(self, message: ServerMessage) -> None:
        if isinstance(message, TurnComplete) and self.on_hold:
            self._line_done.set()
        await self._bridge.deliver(message)

    async def deliver_audio(self, audio: bytes, item_id: str) -> None:
        if self.on_hold and self._line_done.is_set():
            return  # the chime is playing: the assistant waits with the caller, silently
        await self._bridge.deliver_audio(audio, item_id)

    async def caller_speech_started(self) -> bool:
        if self.on_hold:
            return True  # nothing of the caller reaches the assistant: nothing to cut
        return await self._bridge.caller_speech_started()

    async def answer_tool(self, call: ToolCall) -> dict[str, Any]:
        return await self._bridge.answer_tool(call)

    async def play_cue(self, cue: Cue) -> float:
        if self.on_hold:
            return 0.0  # the engine's "one moment" lines would talk over the chime
        return await self._bridge.play_cue(cue)
