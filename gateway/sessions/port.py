"""The Conversation's one client port (DESIGN §1): typed events in, ``SessionClient`` out.

Every door is a thin adapter over this port: the app socket turns JSON into these events, the
phone bridge turns carrier media into them. The engine never learns which door it serves; what
it must know of a client is declared once, in ``ClientTraits``, and read by the session plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

from gateway.sessions.plan import ClientTraits, SessionPlan
from gateway.sessions.protocol import ServerMessage
from providers.events import ToolCall

# --- client → conversation ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallerAudio:
    """Caller audio as raw bytes, in the plan's inbound port format (any whole-sample length)."""

    audio: bytes
    kind: Literal["caller_audio"] = "caller_audio"


@dataclass(frozen=True, slots=True)
class CallerText:
    """A text turn: typed by the user (``textMessage``); the assistant answers it."""

    text: str
    kind: Literal["caller_text"] = "caller_text"


@dataclass(frozen=True, slots=True)
class CallerDigit:
    """A key the caller pressed (DTMF); the assistant is told, as a short text note."""

    digit: str
    kind: Literal["caller_digit"] = "caller_digit"


@dataclass(frozen=True, slots=True)
class CallerTurnStarted:
    """The client's VAD heard the caller start talking ``ms_ago`` before the end of the audio
    it has sent (plan ``turns == "client"``)."""

    ms_ago: int
    kind: Literal["caller_turn_started"] = "caller_turn_started"


@dataclass(frozen=True, slots=True)
class CallerTurnEnded:
    """The client's VAD heard the caller stop ``ms_ago`` before the end of its audio."""

    ms_ago: int
    kind: Literal["caller_turn_ended"] = "caller_turn_ended"


@dataclass(frozen=True, slots=True)
class Interrupt:
    """Stop the agent now; ``played_ms`` is how much of its current item the caller heard
    (``None``: unknown, assume all of it)."""

    played_ms: int | None = None
    kind: Literal["interrupt"] = "interrupt"


@dataclass(frozen=True, slots=True)
class EndSession:
    """The client is done (stop message, hang-up, disconnect): end now with ``reason``."""

    reason: str
    kind: Literal["end_session"] = "end_session"


@dataclass(frozen=True, slots=True)
class EndAfterResponse:
    """End once the current response has been delivered (a goodbye or transfer line)."""

    reason: str
    kind: Literal["end_after_response"] = "end_after_response"


ClientEvent = (
    CallerAudio
    | CallerText
    | CallerDigit
    | CallerTurnStarted
    | CallerTurnEnded
    | Interrupt
    | EndSession
    | EndAfterResponse
)


# --- conversation → client ---------------------------------------------------------------------

Cue = Literal["holding", "failover", "tool", "transfer_hold"]
"""A short prerecorded line the engine asks a client to play so the caller never hears dead
air: ``holding`` ("one moment, please") while a provider reconnects or is slow to connect,
``failover`` ("sorry about that, just a moment") when the session moves to its fallback
provider, ``tool`` ("let me check that for you") while a tool runs; ``transfer_hold`` (a soft
chime, looped by the phone door itself) while a warm transfer rings a human."""


class SessionClient(Protocol):
    """Where a conversation's output goes; implemented by each door."""

    @property
    def traits(self) -> ClientTraits:
        """What the client speaks and does itself; read once, by the session plan."""

    def session_planned(self, plan: SessionPlan) -> None:
        """The plan is fixed before the conversation starts: audio formats per direction."""

    async def deliver(self, message: ServerMessage) -> None:
        """A protocol message other than agent audio."""

    async def deliver_audio(self, audio: bytes, item_id: str) -> None:
        """Agent speech in the plan's outbound port format, tagged with its response item."""

    async def caller_speech_started(self) -> bool:
        """The provider heard the caller start talking: True if the client handles the
        barge-in itself (clears its playout and sends ``Interrupt``), False to let the
        Conversation interrupt the provider."""

    async def answer_tool(self, call: ToolCall) -> dict[str, Any]:
        """Answer a built-in tool the plan gives to the client (``end_call`` on a call)."""

    async def play_cue(self, cue: Cue) -> float:
        """Play a prerecorded line now, after what is already queued, and say how long it
        lasts in seconds (a phone call plays it; a client with no caller to keep on the line
        may ignore it and return 0). May come before ``session_planned`` (a slow connect)."""
