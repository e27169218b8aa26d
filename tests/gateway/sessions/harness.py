"""An in-process harness for the Conversation engine: no aiohttp, no database, no sockets.

``engine(...)`` plans a session from a client's traits and the scripted provider's capabilities
(as the runner does), wires a ``Conversation`` to a ``ScriptedSession``, a recording client, an
in-memory turn store and a virtual clock, and runs it in a task it owns. Every wait is on a
future that the thing awaited resolves (a message delivered, a text sent to the provider, the
provider's events taken), bounded by ``WAIT_S`` so a broken engine fails a test, never hangs it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from gateway.api.session_socket import APP_TRAITS
from gateway.sessions.conversation import Conversation, ConversationLimits
from gateway.sessions.plan import ClientTraits, SessionPlan, plan_session
from gateway.sessions.port import ClientEvent, Cue
from gateway.sessions.protocol import ServerMessage, TurnComplete
from gateway.sessions.tool_calls import WebhookHandler
from gateway.sessions.transcripts import TurnRecord
from providers.capabilities import ProviderCapabilities
from providers.events import ToolCall
from providers.spec import AssistantSpec, SessionContext, SessionMode
from tests.fakes.scripted_provider import CAPABILITIES, ScriptedSession
from tests.virtual_clock import VirtualClock

WAIT_S = 2.0
"""A safety net only: every wait resolves as soon as its event happens, in microseconds."""
T = TypeVar("T")
ToolAnswerer = Callable[[ToolCall], Awaitable[dict[str, Any]]]


async def waited(awaitable: Awaitable[T]) -> T:
    """Await ``awaitable``, failing the test (not hanging it) if it never comes."""
    return await asyncio.wait_for(awaitable, WAIT_S)


class _Signal:
    """Futures resolved whenever something is recorded, for ``until``-style waits."""

    def __init__(self) -> None:
        self._waiters: list[asyncio.Future[None]] = []

    def notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def until(self, ready: Callable[[], bool]) -> None:
        while not ready():
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter


async def _ok(call: ToolCall) -> dict[str, Any]:
    return {"ok": True}


class RecordingClient:
    """A ``SessionClient`` that records everything the engine gives it."""

    def __init__(
        self,
        traits: ClientTraits,
        *,
        handles_barge_in: bool = False,
        answer: ToolAnswerer = _ok,
    ) -> None:
        self.traits = traits
        self.handles_barge_in = handles_barge_in
        self.plan: SessionPlan | None = None
        self.messages: list[ServerMessage] = []
        self.audio: list[tuple[bytes, str]] = []
        self.speech_started = 0
        self.tool_calls: list[ToolCall] = []
        self.cues: list[tuple[float, Cue]] = []
        """(clock time, cue) of every cue played; ``clock`` must be set to record times."""
        self.clock: VirtualClock | None = None
        self.cue_seconds = 1.0
        self._answer = answer
        self._seen = 0  # messages already handed out by ``until``
        self._signal = _Signal()

    # --- SessionClient -------------------------------------------------------------------------

    def session_planned(self, plan: SessionPlan) -> None:
        self.plan = plan

    async def deliver(self, message: ServerMessage) -> None:
        self.messages.append(message)
        self._signal.notify()

    async def deliver_audio(self, audio: bytes, item_id: str) -> None:
        self.audio.append((audio, item_id))
        self._signal.notify()

    async def caller_speech_started(self) -> bool:
        self.speech_started += 1
        self._signal.notify()
        return self.handles_barge_in

    async def play_cue(self, cue: Cue) -> float:
        self.cues.append((self.clock.monotonic() if self.clock else 0.0, cue))
        self._signal.notify()
        return self.cue_seconds

    async def answer_tool(self, call: ToolCall) -> dict[str, Any]:
        self.tool_calls.append(call)
        self._signal.notify()
        return await self._answer(call)

    # --- what tests await ----------------------------------------------------------------------

    async def until(self, kind: str) -> tuple[ServerMessage, list[ServerMessage]]:
        """The next message of type ``kind`` not yet handed out, and every message since the
        last ``until`` up to and including it."""
        start = self._seen

        def found() -> bool:
            return any(m.type == kind for m in self.messages[start:])

        await waited(self._signal.until(found))
        index = next(i for i in range(start, len(self.messages)) if self.messages[i].type == kind)
        self._seen = index + 1
        return self.messages[index], self.messages[start : index + 1]

    async def turn(self) -> TurnComplete:
        """The next ``turnComplete``."""
        message, _ = await self.until("turnComplete")
        assert isinstance(message, TurnComplete)
        return message

    async def audio_at_least(self, n_bytes: int) -> bytes:
        await waited(self._signal.until(lambda: len(self.audio_bytes) >= n_bytes))
        return self.audio_bytes

    @property
    def audio_bytes(self) -> bytes:
        return b"".join(audio for audio, _ in self.audio)

    def kinds(self) -> list[str]:
        return [m.type for m in self.messages]


@dataclass
class MemoryTurns:
    """A ``TurnStore`` in memory: the utterances by sequence number, and every amendment."""

    records: list[TurnRecord] = field(default_factory=list)
    completed_turns: int = 0
    adds: list[tuple[int, int, bool]] = field(default_factory=list)
    """Each ``add`` as (first_seq, number of records, completed)."""
    amendments: list[tuple[int, str]] = field(default_factory=list)

    def add(self, first_seq: int, records: tuple[TurnRecord, ...], completed: bool) -> None:
        assert first_seq == len(self.records), "utterances must be stored in sequence"
        self.records.extend(records)
        self.completed_turns += int(completed)
        self.adds.append((first_seq, len(records), completed))

    def amend(self, seq: int, text: str) -> None:
        self.amendments.append((seq, text))
        old = self.records[seq]
        self.records[seq] = TurnRecord(
            old.role, text, old.started_at, old.ended_at, interrupted=True
        )

    def transcript(self) -> list[tuple[str, str]]:
        return [(r.role, r.text) for r in self.records]


@dataclass
class Harness:
    """One running Conversation and everything around it."""

    conversation: Conversation
    provider: ScriptedSession
    client: RecordingClient
    turns: MemoryTurns
    clock: VirtualClock
    plan: SessionPlan
    webhook_calls: list[ToolCall]
    reply_latencies_s: list[float]
    run: asyncio.Task[str]

    async def send(self, event: ClientEvent) -> None:
        """One client event through the port, as a door would give it."""
        await self.conversation.receive(event)

    async def ended(self) -> str:
        """The end reason, once ``run`` returns."""
        return await waited(asyncio.shield(self.run))

    async def settled(self) -> None:
        """Every provider event emitted so far has been acted on."""
        await waited(self.provider.drained())


def make_plan(
    traits: ClientTraits,
    capabilities: ProviderCapabilities,
    assistant: AssistantSpec,
    mode: SessionMode,
    *,
    can_transfer: bool = False,
) -> SessionPlan:
    return plan_session(traits, capabilities, assistant, mode, can_transfer=can_transfer)


@contextlib.asynccontextmanager
async def engine(
    *,
    traits: ClientTraits = APP_TRAITS,
    capabilities: ProviderCapabilities = CAPABILITIES,
    assistant: AssistantSpec | None = None,
    mode: SessionMode = "voice",
    plan: SessionPlan | None = None,
    limits: ConversationLimits | None = None,
    handles_barge_in: bool = False,
    answer_tool: ToolAnswerer = _ok,
    webhooks: WebhookHandler | None = None,
    silence_ms: int = 500,
    can_transfer: bool = False,
) -> AsyncIterator[Harness]:
    """A Conversation for ``traits`` on a scripted provider, run for the duration of the block."""
    assistant = assistant or AssistantSpec(name="Harness", provider="scripted")
    plan = plan or make_plan(traits, capabilities, assistant, mode, can_transfer=can_transfer)
    clock = VirtualClock()
    context = SessionContext(
        session_id="harness",
        mode=plan.mode,
        input_audio=plan.inbound.provider,
        output_audio=plan.outbound.provider,
        client_turns=plan.provider_takes_turn_marks,
    )
    provider = ScriptedSession(assistant, context, capabilities)
    client = RecordingClient(traits, handles_barge_in=handles_barge_in, answer=answer_tool)
    client.clock = clock
    client.session_planned(plan)
    turns = MemoryTurns()
    webhook_calls: list[ToolCall] = []
    reply_latencies_s: list[float] = []

    async def recorded_webhooks(call: ToolCall) -> dict[str, Any]:
        webhook_calls.append(call)
        assert webhooks is not None
        return await webhooks(call)

    conversation = Conversation(
        provider=provider,
        client=client,
        plan=plan,
        clock=clock,
        limits=limits or ConversationLimits(),
        turns=turns,
        on_reply_latency=reply_latencies_s.append,
        webhooks=recorded_webhooks if webhooks is not None else None,
        silence_ms=silence_ms,
    )
    run = asyncio.create_task(conversation.run(), name="harness-conversation")
    harness = Harness(
        conversation, provider, client, turns, clock, plan, webhook_calls, reply_latencies_s, run
    )
    try:
        # Running: the pump waits on the provider and the timers sleep on the clock.
        await waited(provider.drained())
        await waited(clock.sleeping())
        yield harness
    finally:
        run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run
        await provider.aclose()
