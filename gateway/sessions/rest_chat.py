"""Chat over plain REST: a session driven by ``POST /api/v1/sessions/{id}/messages``.

The first message claims the pending chat session (as a WebSocket would) and starts its
conversation in a task owned by ``RestChats``; the conversation then lives across requests
until it ends the usual ways (idle time-out, ``DELETE``, ``max_turns``, shutdown). Each message
is one turn: the request follows the turn its text opened (the ``turnStarted`` the engine emits
names it) and returns, or streams, what belongs to it up to its ``turnComplete``. One message
at a time per session; a session with a live WebSocket is not this door's (409).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Any

from gateway.errors import Conflict, Unavailable
from gateway.sessions.conversation import Conversation
from gateway.sessions.plan import ClientTraits, SessionPlan
from gateway.sessions.port import CallerText, Cue
from gateway.sessions.protocol import (
    ServerMessage,
    SessionError,
    SessionOpen,
    SessionTimeout,
    TurnComplete,
    TurnStarted,
)
from gateway.sessions.runner import SessionRunner
from gateway.sessions.service import SessionService
from gateway.store.models import Session
from kinds.audio import PCM16_24K
from providers.events import ToolCall

log = logging.getLogger(__name__)

REST_TRAITS = ClientTraits(audio=PCM16_24K, converts_audio=False, detects_turns=False)
"""A REST client only sends and reads text (chat mode): it speaks no audio and answers no
built-in tool."""
OPEN_TIMEOUT_S = 15.0
"""How long the first message waits for the provider to connect (and greet)."""
REPLY_TIMEOUT_S = 60.0
"""How long a message waits for each event of its turn; past it the request fails with 503."""


@dataclass(frozen=True, slots=True)
class ToolCallNotice:
    """A tool the model called during this turn (streamed as ``toolCall``)."""

    call_id: str
    name: str
    arguments: dict[str, Any]


ChatEvent = ServerMessage | ToolCallNotice


class RestChatClient:
    """The conversation's client: hands its messages to the request waiting for them."""

    traits = REST_TRAITS

    def __init__(self) -> None:
        self.listener: asyncio.Queue[ChatEvent | None] | None = None
        self.opened = asyncio.Event()
        self.greeted = asyncio.Event()

    async def deliver(self, message: ServerMessage) -> None:
        if isinstance(message, SessionOpen):
            self.opened.set()
        elif isinstance(message, TurnComplete):
            self.greeted.set()
        if self.listener is not None:
            self.listener.put_nowait(message)

    async def deliver_audio(self, audio: bytes, item_id: str) -> None:
        """Chat sessions have no audio."""

    async def caller_speech_started(self) -> bool:
        return False

    def session_planned(self, plan: SessionPlan) -> None:
        """Nothing to prepare: chat text only."""

    async def play_cue(self, cue: Cue) -> float:
        """A REST chat has no caller to keep on the line: cues are not played."""
        del cue
        return 0.0

    async def answer_tool(self, call: ToolCall) -> dict[str, Any]:
        return {"error": f"tool {call.name!r} is not available"}


class RestChat:
    """One REST-driven session: its conversation task and the message in flight."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self.client = RestChatClient()
        self.conversation: Conversation | None = None
        self.task: asyncio.Task[str] | None = None
        self._busy = asyncio.Lock()
        self._turn_metadata: dict[str, Any] | None = None

    async def read(self, conversation: Conversation) -> None:
        """The runner's client reader: input arrives through ``ask``, so only wait."""
        self.conversation = conversation
        await asyncio.Event().wait()

    def observe_tool(self, call: ToolCall) -> dict[str, Any] | None:
        if self.client.listener is not None:
            self.client.listener.put_nowait(ToolCallNotice(call.call_id, call.name, call.arguments))
        return self._turn_metadata

    def ended(self) -> None:
        """The conversation is over: wake a request still waiting for its turn."""
        if self.client.listener is not None:
            self.client.listener.put_nowait(None)

    async def ask(
        self, text: str, metadata: dict[str, Any] | None
    ) -> AsyncGenerator[ChatEvent, None]:
        """Send one user message; yield what belongs to its turn, ending with ``turnComplete``
        (or the ``sessionError``/``sessionTimeout`` that ended the session)."""
        if self._busy.locked():
            raise Conflict("a message of this session is still being answered")
        async with self._busy:
            conversation = self.conversation
            if conversation is None or conversation.ended:
                raise Conflict("the session is over")
            listener: asyncio.Queue[ChatEvent | None] = asyncio.Queue()
            self.client.listener, self._turn_metadata = listener, metadata
            try:
                await conversation.receive(CallerText(text))
                async for event in _turn_events(listener):
                    yield event
            finally:
                self.client.listener, self._turn_metadata = None, None


async def _turn_events(listener: asyncio.Queue[ChatEvent | None]) -> AsyncIterator[ChatEvent]:
    turn_id: int | None = None
    while True:
        try:
            event = await asyncio.wait_for(listener.get(), REPLY_TIMEOUT_S)
        except TimeoutError:
            raise Unavailable("the assistant did not answer in time") from None
        if event is None:
            raise Conflict("the session ended before the answer")
        if isinstance(event, TurnStarted):
            if turn_id is None and event.role == "user":
                turn_id = event.turn_id
            continue
        if isinstance(event, TurnComplete) and event.turn_id != turn_id:
            continue  # an earlier turn (the greeting) finishing after this message arrived
        yield event
        if isinstance(event, (TurnComplete, SessionError, SessionTimeout)):
            return


async def _ready(chat: RestChat, event: asyncio.Event) -> bool:
    """Whether ``event`` is set within ``OPEN_TIMEOUT_S``; 503 if the session ends first."""
    assert chat.task is not None
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait(
            {waiter, chat.task}, timeout=OPEN_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        waiter.cancel()
    if event.is_set():
        return True
    if chat.task.done():
        failure = chat.task.exception()
        reason = repr(failure) if failure is not None else chat.task.result()
        raise Unavailable(f"the session could not start ({reason})")
    return False


class RestChats:
    """The REST-driven sessions this node runs; owns their conversation tasks."""

    def __init__(self, service: SessionService, runner: SessionRunner) -> None:
        self._service = service
        self._runner = runner
        self._chats: dict[str, RestChat] = {}

    def holds(self, session_id: str) -> bool:
        """Whether this node runs the session's REST chat."""
        return session_id in self._chats

    async def open(self, row: Session, *, greets: bool) -> RestChat:
        """The session's REST chat, started by claiming it if it is still pending."""
        chat = self._chats.get(row.id)
        if chat is not None:
            return chat
        if row.mode != "chat":
            raise Conflict("REST messages are for chat sessions; voice sessions use the WebSocket")
        if row.status == "active":
            raise Conflict(
                "the session has a live WebSocket (send textMessage there), or its REST chat "
                "is held by another node that cannot be reached"
            )
        claimed = await self._service.claim(row)
        chat = RestChat(claimed.id)
        self._chats[claimed.id] = chat
        chat.task = asyncio.create_task(self._run(chat, claimed), name="rest-chat")
        await self._started(chat, greets=greets)
        return chat

    async def _run(self, chat: RestChat, row: Session) -> str:
        try:
            return await self._runner.run(
                row, chat.client, chat.read, tool_observer=chat.observe_tool
            )
        finally:
            self._chats.pop(chat.session_id, None)
            chat.ended()

    async def _started(self, chat: RestChat, *, greets: bool) -> None:
        """Wait until the provider is connected and, if it greets, the greeting is done, so
        the first message is not taken as the greeting's input."""
        if not await _ready(chat, chat.client.opened):
            raise Unavailable("the AI provider did not connect in time")
        if greets:
            await _ready(chat, chat.client.greeted)  # no greeting in time: go on without it

    async def aclose(self) -> None:
        """End every REST chat and wait for its wrap-up (shutdown)."""
        for chat in list(self._chats.values()):
            if chat.conversation is not None:
                chat.conversation.end("shutdown")
        tasks = [chat.task for chat in self._chats.values() if chat.task is not None]
        for task in tasks:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(task, OPEN_TIMEOUT_S)
