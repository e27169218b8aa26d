"""The session plan: decided once, before a session starts, by a pure function.

From what the client speaks and does itself (``ClientTraits``), what the provider can do (its
``ProviderCapabilities``) and the assistant, ``plan_session`` fixes:

- the audio format at the port in each direction, and what the provider is asked to speak, so
  each direction is converted at most once: by the client where it converts anyway (a phone
  call decodes G.711 for its VAD, then resamples straight to the provider's rate), or by the
  engine (an app's PCM16 24 kHz to Gemini's 16 kHz); a shared format passes straight through;
- who detects the caller's turns: the provider, the client's VAD, the gateway (a VAD run by the
  engine on an app's audio), or nobody (chat); and whether the gateway's VAD also runs beside
  a provider's that never says when a turn ended (Gemini), to time the reply;
- which built-in tools the model is offered and which side answers each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from kinds.audio import AudioFormat
from providers.capabilities import ProviderCapabilities
from providers.spec import AssistantSpec, SessionMode, ToolSpec

TurnSource = Literal["provider", "client", "gateway", "none"]
Answerer = Literal["client", "engine"]

END_SESSION_TOOL = ToolSpec(
    name="end_session",
    description="End the conversation once it is over. Say goodbye first.",
    parameters={"type": "object", "properties": {}},
)
END_CALL_TOOL = ToolSpec(
    name="end_call",
    description="Hang up once the conversation is over. Say goodbye first.",
    parameters={"type": "object", "properties": {}},
)
TRANSFER_TOOL = ToolSpec(
    name="transfer_call",
    description="Transfer the caller to a human colleague. Say a short line first.",
    parameters={"type": "object", "properties": {"reason": {"type": "string"}}},
)
"""The plain tool; an assistant with named destinations offers ``transfer_spec``'s instead."""


@dataclass(frozen=True, slots=True)
class ClientTraits:
    """What a door's client speaks and does itself."""

    audio: AudioFormat
    """The client's own format, both ways (an app's PCM16 24 kHz, a carrier's G.711)."""
    converts_audio: bool
    """It produces and plays PCM16 at any rate at no extra step (a phone bridge decodes G.711
    anyway), so a provider's PCM16 rate needs no second conversion in the engine."""
    detects_turns: bool
    """It runs a VAD of its own and sends ``CallerTurnStarted``/``CallerTurnEnded``."""
    answers: frozenset[str] = frozenset()
    """Built-in tools it answers itself (a call's ``end_call``, ``transfer_call``)."""


@dataclass(frozen=True, slots=True)
class AudioRoute:
    """One direction: the format at the client port, and the provider's side of it."""

    port: AudioFormat
    provider: AudioFormat

    @property
    def converts(self) -> bool:
        """Whether the engine converts between the two (at most once per direction)."""
        return self.port != self.provider


@dataclass(frozen=True, slots=True)
class Builtin:
    """A tool the gateway itself provides, and the side that answers it."""

    spec: ToolSpec
    answered_by: Answerer
    offered: bool = True
    """Offered to the model; else answered only if the assistant declares a tool of that name
    (an app's ``end_session`` is opt-in, so apps that never asked for it keep their tools)."""


@dataclass(frozen=True, slots=True)
class SessionPlan:
    """What a session does, fixed before it starts."""

    mode: SessionMode
    inbound: AudioRoute
    """Caller audio: the client sends ``port``; the provider takes ``provider``."""
    outbound: AudioRoute
    """Agent audio: the provider gives ``provider``; the client gets ``port``."""
    turns: TurnSource
    builtins: tuple[Builtin, ...] = ()
    gateway_vad: bool = False
    """The engine finds the caller's turns in the app's audio: to tell the provider
    (``turns == "gateway"``), or only to time the reply from the end of the caller's turn when
    the provider's own VAD keeps that to itself (it then hears ``caller_turn_ended``, as a
    call's provider does from the bridge's VAD)."""

    @property
    def provider_takes_turn_marks(self) -> bool:
        """The provider is told the caller's turns (``begin_turn``/``end_turn``)."""
        return self.turns in ("client", "gateway")

    @property
    def offered_tools(self) -> tuple[ToolSpec, ...]:
        return tuple(b.spec for b in self.builtins if b.offered)

    def builtin(self, name: str) -> Builtin | None:
        return next((b for b in self.builtins if b.spec.name == name), None)


def plan_session(
    client: ClientTraits,
    provider: ProviderCapabilities,
    assistant: AssistantSpec,
    mode: SessionMode,
    *,
    can_transfer: bool = False,
    transfer_tool: ToolSpec = TRANSFER_TOOL,
) -> SessionPlan:
    """The plan for one session; pure, so every combination is a row in a table test."""
    inbound = _route(client, provider.input_formats)
    outbound = _route(client, provider.output_formats)
    turns = _turns(client, provider, assistant, mode)
    untimed = turns == "provider" and not client.detects_turns and not provider.speech_end_events
    return SessionPlan(
        mode=mode,
        inbound=inbound,
        outbound=outbound,
        turns=turns,
        builtins=_builtins(client, transfer_tool if can_transfer else None),
        gateway_vad=turns == "gateway" or untimed,
    )


def _route(client: ClientTraits, formats: tuple[AudioFormat, ...]) -> AudioRoute:
    """The client's own format when the provider speaks it; else the provider's first choice,
    converted by the client if it can do so within its own step, else by the engine."""
    if client.audio in formats:
        return AudioRoute(client.audio, client.audio)
    preferred = formats[0]
    if client.converts_audio and preferred.encoding == "pcm16":
        return AudioRoute(preferred, preferred)
    return AudioRoute(client.audio, preferred)


def _turns(
    client: ClientTraits,
    provider: ProviderCapabilities,
    assistant: AssistantSpec,
    mode: SessionMode,
) -> TurnSource:
    if mode == "chat":
        return "none"
    wants_server_vad = assistant.turn_detection.server_vad and provider.server_vad
    # A provider whose VAD would run on this machine anyway (the local one) gains nothing from
    # it when the client already runs one on the same audio: use the client's.
    if wants_server_vad and not (provider.vad_runs_locally and client.detects_turns):
        return "provider"
    if not provider.turn_marks:
        return "provider"  # it cannot be told: its own VAD is all there is
    return "client" if client.detects_turns else "gateway"


def _builtins(client: ClientTraits, transfer: ToolSpec | None) -> tuple[Builtin, ...]:
    if "end_call" in client.answers:
        found = [Builtin(END_CALL_TOOL, "client")]
    else:
        found = [Builtin(END_SESSION_TOOL, "engine", offered=False)]
    if transfer is not None and "transfer_call" in client.answers:
        found.append(Builtin(transfer, "client"))
    return tuple(found)
