"""An app session that outlives its WebSocket: the Conversation's client, sockets plug in.

The Conversation talks to one ``AppSession`` for the session's whole life. It numbers every
server message (``seq`` is the session's, not a socket's), holds recent ones in a
``ReplayBuffer`` and hands them to the socket attached at the moment, if any. When a socket
drops without ``stopSession`` the session waits ``grace_s`` for a resume
(``?resume=<token>&lastSeq=<n>``), its provider still connected and its idle and duration
limits still running; nobody back in time ends it as ``client_lost``. With a grace of 0 a drop
ends the session at once, as before resumes existed (``client_disconnected``).

The resume token is a secret of the client that holds the session's socket: a fresh one comes
with each ``sessionOpen`` (the first and each resume's), only its hash is kept, and it is
compared in constant time. It is never the session's API key and never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import secrets
from typing import Any

from aiohttp import web

from gateway.api.app_audio import AppAudioCodec, app_traits
from gateway.api.replay import ReplayBuffer
from gateway.api.sequence import MessageSequence
from gateway.api.session_socket import AppSocketClient, read_client
from gateway.errors import Conflict
from gateway.sessions.conversation import Conversation
from gateway.sessions.plan import SessionPlan
from gateway.sessions.port import Cue, EndSession
from gateway.sessions.protocol import (
    AgentAudioChunk,
    ServerMessage,
    SessionOpen,
    encode,
)
from gateway.sessions.runner import SessionRunner
from gateway.store.keys import hash_secret
from gateway.store.models import Assistant, Session
from kinds.clock import Clock
from providers.events import ToolCall
from providers.spec import SessionMode

log = logging.getLogger(__name__)

RESUME_TOKEN_PREFIX = "kura_rt_"  # noqa: S105 - a prefix, not a secret
SHUTDOWN_WAIT_S = 10.0


def with_fields(encoded: str, **fields: str | int | bool) -> str:
    """``encoded`` (one JSON object) with extra simple fields at its end."""
    extra = "".join(f",{_json_pair(name, value)}" for name, value in fields.items())
    return encoded[:-1] + extra + "}"


def _json_pair(name: str, value: str | int | bool) -> str:
    if isinstance(value, bool):
        return f'"{name}":{"true" if value else "false"}'
    if isinstance(value, int):
        return f'"{name}":{value}'
    return f'"{name}":"{value}"'  # tokens are URL-safe base64: nothing to escape


class AppSession:
    """The Conversation's client for an app session, whichever socket is attached now."""

    def __init__(
        self,
        session_id: str,
        *,
        turn_events: bool,
        audio_bytes: int,
        grace_s: float,
        clock: Clock,
        draining: asyncio.Event | None = None,
        audio: AppAudioCodec | None = None,
    ) -> None:
        self.session_id = session_id
        self.audio = audio or AppAudioCodec()
        self.traits = app_traits(self.audio.format)
        self._filter = MessageSequence(turn_events=turn_events)
        self.replay = ReplayBuffer(self._filter, audio_bytes=audio_bytes)
        self.grace_s = grace_s
        self._clock = clock
        self._draining = draining or asyncio.Event()
        self.link: AppSocketClient | None = None
        self._attached = asyncio.Event()
        self._token_hash: str | None = None
        self._opened: str | None = None
        self.mode: SessionMode = "voice"
        self.conversation: Conversation | None = None
        self.end_reason: str | None = None

    # --- the Conversation's port ---------------------------------------------------------------

    async def deliver(self, message: ServerMessage) -> None:
        if not self._filter.wanted(message):
            return
        encoded = encode(message)
        stamped = self.replay.add(encoded, audio=False)
        if isinstance(message, SessionOpen):
            self._opened = encoded  # a resume's sessionOpen repeats it, with a new token
            stamped = with_fields(stamped, resumeToken=self._new_token())
        self._send(stamped)

    async def deliver_audio(self, audio: bytes, item_id: str) -> None:
        chunk = encode(AgentAudioChunk(audio=self.audio.encode(audio)))
        self._send(self.replay.add(chunk, audio=True))

    async def caller_speech_started(self) -> bool:
        """Apps play audio themselves, so the Conversation interrupts the provider."""
        return False

    def session_planned(self, plan: SessionPlan) -> None:
        """The app's format was fixed at connect (the plan's port); only the mode matters."""
        self.mode = plan.mode

    async def answer_tool(self, call: ToolCall) -> dict[str, Any]:
        return {"error": f"tool {call.name!r} is not available"}  # the plan gives apps none

    async def play_cue(self, cue: Cue) -> float:
        """Apps draw their own waiting state (the Kura protocol has no message for a cue)."""
        del cue
        return 0.0

    def _send(self, stamped: str) -> None:
        if self.link is not None:
            self.link.put(stamped)

    # --- sockets in and out --------------------------------------------------------------------

    def _new_token(self) -> str:
        token = RESUME_TOKEN_PREFIX + secrets.token_urlsafe(32)
        self._token_hash = hash_secret(token)
        return token

    def token_matches(self, token: str) -> bool:
        return self._token_hash is not None and hmac.compare_digest(
            self._token_hash, hash_secret(token)
        )

    def attach(self, link: AppSocketClient) -> None:
        """The first socket: it gets everything from ``sessionOpen`` on, live."""
        self._plug(link)

    def check_resume(self, last_seq: int, *, audio: bool) -> None:
        """Raise what a resume from ``last_seq`` would meet: ``Conflict`` while a socket is
        attached, ``ValueError`` or ``ReplayGap`` (``ReplayBuffer.since``) otherwise."""
        if self.end_reason is not None:  # it ended while the resume was being upgraded
            raise Conflict("the session is over")
        if self.link is not None:
            raise Conflict("the session still has a live connection: one connection at a time")
        if self._opened is None:
            raise Conflict("the session is not open yet")
        self.replay.since(last_seq, audio=audio)

    def resume(self, link: AppSocketClient, last_seq: int, *, audio: bool) -> int:
        """Plug ``link`` in: a new ``sessionOpen`` (unnumbered, ``resumed``, a new token), the
        messages after ``last_seq``, then the live stream; the old token is spent. Nothing is
        awaited between taking the replay and plugging in, so no message is lost or doubled.
        Returns how many messages were replayed. Raises as ``check_resume``."""
        self.check_resume(last_seq, audio=audio)
        missed = self.replay.since(last_seq, audio=audio)
        if not audio:
            self.replay.skip_audio()
        assert self._opened is not None
        opening = with_fields(
            self._opened, resumed=True, resumeToken=self._new_token(), lastSeq=self.replay.last_seq
        )
        link.replay([opening, *missed])
        self._plug(link)
        return len(missed)

    def _plug(self, link: AppSocketClient) -> None:
        link.on_broken = self._link_broken
        self.link = link
        self._attached.set()

    def _unplug(self, link: AppSocketClient) -> None:
        if self.link is link:
            self.link = None
            self._attached.clear()
        link.finish(None)

    async def _link_broken(self, reason: str) -> None:
        """A client that stopped reading: without a grace period that ends the session (the
        reason first, as losing the connection may cancel what follows)."""
        if self.grace_s <= 0 and self.conversation is not None:
            await self.conversation.receive(EndSession(reason))

    def ended(self, reason: str) -> None:
        self.end_reason = reason
        if self.link is not None:
            self.link.finish(reason)

    async def read(self, conversation: Conversation) -> None:
        """The runner's client reader: each attached socket's frames in turn; between them,
        wait for a resume."""
        self.conversation = conversation
        while True:
            link = self.link or await self._resumed()
            if link is None:
                log.info("app session not resumed in time", extra={"session_id": self.session_id})
                await conversation.receive(EndSession("client_lost"))
                return
            await read_client(link.ws, self, conversation)
            self._unplug(link)
            if self.grace_s <= 0:
                await conversation.receive(EndSession(link.broken_reason or "client_disconnected"))
                return
            log.info(
                "app socket lost; the session waits for a resume",
                extra={"session_id": self.session_id, "grace_s": self.grace_s},
            )

    async def _resumed(self) -> AppSocketClient | None:
        """The socket that resumed within the grace period, or None. A node that starts
        draining stops waiting, so its drain (and its stop) never waits on a session whose
        client is gone."""
        waiters = {
            asyncio.ensure_future(self._attached.wait()),
            asyncio.ensure_future(self._clock.sleep(self.grace_s)),
            asyncio.ensure_future(self._draining.wait()),
        }
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        return self.link


class AppSessions:
    """The app sessions this node runs; owns their tasks (a socket only plugs into one)."""

    def __init__(self) -> None:
        self._sessions: dict[str, AppSession] = {}
        self._tasks: set[asyncio.Task[str]] = set()

    def get(self, session_id: str) -> AppSession | None:
        return self._sessions.get(session_id)

    def start(
        self,
        runner: SessionRunner,
        row: Session,
        session: AppSession,
        assistant: Assistant | None = None,
    ) -> None:
        self._sessions[row.id] = session
        running = self._run(runner, row, session, assistant)
        task = asyncio.create_task(running, name="app-session")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(
        self, runner: SessionRunner, row: Session, session: AppSession, assistant: Assistant | None
    ) -> str:
        reason = "internal_error"
        try:
            reason = await runner.run(row, session, session.read, assistant=assistant)
            return reason
        finally:
            self._sessions.pop(row.id, None)
            session.ended(reason)

    async def aclose(self) -> None:
        """Wait (bounded) for the sessions' wrap-up once they were told to end (shutdown)."""
        if self._tasks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.gather(*self._tasks, return_exceptions=True), SHUTDOWN_WAIT_S
                )


APP_SESSIONS = web.AppKey("kura_app_sessions", AppSessions)


def install(app: web.Application) -> None:
    """Give the app its registry; on shutdown (after the live sessions were told to end)
    wait for their tasks."""
    sessions = AppSessions()
    app[APP_SESSIONS] = sessions

    async def close(_app: web.Application) -> None:
        await sessions.aclose()

    app.on_shutdown.append(close)
