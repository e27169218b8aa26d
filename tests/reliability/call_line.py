"""A phone call's engine on a real provider session (a fake server over loopback) at DEFAULT
settings, on the virtual clock, with what the caller hears laid out in time.

``Line`` wires what the runner wires for a call (the plan for Twilio's traits, the connect with
its holding line, the Conversation) to an ``Earpiece``: a ``SessionClient`` that records each
sound the caller would hear (agent audio, cues, the apology) at the virtual time it was sent.
The carrier plays what it is sent in order, in real time, so the caller's silence is the gaps in
that playout. Virtual time moves 20 ms per step while the caller streams frames, as a carrier
does; between steps real loopback I/O runs, so the fake server's answers arrive "at once".
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from gateway.sessions.conversation import Conversation, ConversationLimits
from gateway.sessions.dead_air import hold_connect
from gateway.sessions.plan import SessionPlan, plan_session
from gateway.sessions.port import CallerAudio, CallerTurnEnded, CallerTurnStarted, Cue
from gateway.sessions.protocol import ServerMessage, SessionError
from gateway.telephony import twilio_codec
from gateway.telephony.bridge_ports import call_traits
from gateway.telephony.call_audio import apology_ulaw, cue_ulaw
from providers.base import Provider, ProviderSession
from providers.errors import ProviderError
from providers.events import ToolCall
from providers.spec import AssistantSpec, SessionContext
from tests.gateway.sessions.harness import MemoryTurns
from tests.reliability.heard import HeardSounds, Sound, SteppedLine
from tests.virtual_clock import VirtualClock

PHONE = call_traits(twilio_codec.CAPABILITIES)
STEP_S = 0.02
APOLOGY_S = len(apology_ulaw()) / 8000


@dataclass
class Earpiece(HeardSounds):
    """The caller's side of the call: every sound sent, and when."""

    clock: VirtualClock
    plan: SessionPlan | None = None
    sounds: list[Sound] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    traits = PHONE

    def session_planned(self, plan: SessionPlan) -> None:
        self.plan = plan

    async def deliver(self, message: ServerMessage) -> None:
        if isinstance(message, SessionError):  # the bridge plays the apology at once
            self.errors.append(message.error)
            self._add("apology", APOLOGY_S)

    async def deliver_audio(self, audio: bytes, item_id: str) -> None:
        assert self.plan is not None
        self._add("agent", len(audio) / self.plan.outbound.port.bytes_per_ms / 1000)

    async def caller_speech_started(self) -> bool:
        return False

    async def answer_tool(self, call: ToolCall) -> dict[str, Any]:
        return {"ok": True}

    async def play_cue(self, cue: Cue) -> float:
        seconds = len(cue_ulaw(cue)) / 8000
        self._add(cue, seconds)
        return seconds

    def _add(self, what: str, seconds: float) -> None:
        self.sounds.append(Sound(self.clock.monotonic(), seconds, what))

    def kinds(self) -> list[str]:
        """The sounds in order, runs of agent audio collapsed."""
        kinds: list[str] = []
        for sound in self.sounds:
            if not kinds or kinds[-1] != sound.what or sound.what != "agent":
                kinds.append(sound.what)
        return kinds


class Line(SteppedLine):
    """One call on ``provider``: ``await line.step()`` moves 20 ms of caller audio and time."""

    def __init__(self, provider: Provider, assistant: AssistantSpec, clock: VirtualClock) -> None:
        self.provider = provider
        self.assistant = assistant
        self.clock = clock
        self.ear = Earpiece(clock)
        self.plan = plan_session(PHONE, provider.capabilities("voice"), assistant, "voice")
        self.started_s = clock.monotonic()
        self.conversation: Conversation | None = None
        self.session: ProviderSession | None = None
        self.connect_error: ProviderError | None = None
        self._run: asyncio.Task[str] | None = None
        self._voiced = False

    @property
    def over(self) -> bool:
        if self.connect_error is not None:
            return True
        return self._run is not None and self._run.done()

    async def connect(self, limit_s: float = 15.0) -> None:
        """Connect as the runner does (holding line when slow); on failure, the apology."""
        context = SessionContext(
            "line",
            input_audio=self.plan.inbound.provider,
            output_audio=self.plan.outbound.provider,
            client_turns=self.plan.provider_takes_turn_marks,
        )
        connecting = asyncio.ensure_future(
            hold_connect(self.clock, self.ear, self.provider.connect(self.assistant, context))
        )
        while not connecting.done():
            await self._tick()
            assert self.clock.monotonic() - self.started_s < limit_s, "connect never ended"
        try:
            self.session = connecting.result()
        except ProviderError as exc:
            self.connect_error = exc
            await self.ear.deliver(SessionError(error="AI provider unavailable"))
            return
        self.ear.session_planned(self.plan)
        self.conversation = Conversation(
            provider=self.session,
            client=self.ear,
            plan=self.plan,
            clock=self.clock,
            limits=ConversationLimits(idle_timeout_s=600),
            turns=MemoryTurns(),
            greeting=bool(self.assistant.greeting),
        )
        self._run = asyncio.create_task(self.conversation.run())

    async def step(self) -> None:
        """20 ms of caller audio (speech while ``say`` runs, else silence) and of time."""
        if self.conversation is not None and not self.over:
            await self.conversation.receive(CallerAudio(self._frame()))
        await self._tick()

    async def run(self, seconds: float) -> None:
        until_s = self.clock.monotonic() + seconds
        while self.clock.monotonic() < until_s - 1e-9 and not self.over:
            await self.step()

    async def say(self, seconds: float = 0.6) -> float:
        """The caller speaks, then the phone's VAD ends the turn; returns when it ended."""
        assert self.conversation is not None
        await self.conversation.receive(CallerTurnStarted(0))
        self._voiced = True
        await self.run(seconds)
        self._voiced = False
        await self.conversation.receive(CallerTurnEnded(0))
        return self.clock.monotonic()

    async def close(self) -> None:
        if self._run is not None:
            self._run.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._run
        if self.conversation is not None:
            await self.conversation.provider.aclose()

    def _frame(self) -> bytes:
        port = self.plan.inbound.port
        samples = port.sample_rate_hz // 50
        if port.encoding == "pcmu":
            return (b"\x10\x90" if self._voiced else b"\xff\xff") * (samples // 2)
        level = 6000 if self._voiced else 0
        sample = level.to_bytes(2, "little", signed=True)
        return (sample + (-level).to_bytes(2, "little", signed=True)) * (samples // 2)

    async def _tick(self) -> None:
        # Real loopback I/O first (the fake's answers), then virtual time.
        for _ in range(3):
            await asyncio.sleep(0.002)
        await self.clock.advance(STEP_S)


@contextlib.asynccontextmanager
async def line(
    provider: Provider, assistant: AssistantSpec, clock: VirtualClock
) -> AsyncIterator[Line]:
    call = Line(provider, assistant, clock)
    try:
        yield call
    finally:
        await call.close()
