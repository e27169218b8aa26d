"""The CallBridge: a phone call as a client of the Kura session protocol (DESIGN §1, §3).

Carrier media in → inbound chain (G.711 or L16 → PCM16 → VAD → the provider's rate, or the
carrier's audio as is) → ``Conversation``; agent audio → outbound chain (the provider's rate →
the carrier's format → 20 ms frames, a mark per chunk) → carrier. The carrier's capability
record says its format (µ-law or A-law 8 kHz, L16 8/16/24 kHz); the session plan picks the
port's, so each direction is converted at most once, here, and not at all where the provider
speaks the carrier's format. Barge-in (local VAD or the provider's speech start, whichever is
first) clears the carrier's buffer and interrupts the provider at the position the carrier's
echoed marks say was played. The bridge knows carriers only through the seam
(``gateway.telephony.carriers``): one stream's codec and the carrier's capability record.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import WSMsgType

from gateway import metrics
from gateway.sessions.plan import SessionPlan
from gateway.sessions.port import (
    CallerAudio,
    CallerDigit,
    CallerTurnEnded,
    CallerTurnStarted,
    Cue,
    EndAfterResponse,
    EndSession,
    Interrupt,
)
from gateway.sessions.protocol import ServerMessage, SessionError, TranscriptionUpdate, TurnComplete
from gateway.telephony.bridge_ports import (
    CallCounters,
    CarrierSocket,
    EventSink,
    call_traits,
    check_supported,
)
from gateway.telephony.call_audio import apology_audio, cue_audio
from gateway.telephony.carrier_stream import CLOSED_TYPES, until_silent, wait_for_playout
from gateway.telephony.carriers.codec import CarrierCapabilities, CarrierCodec
from gateway.telephony.carriers.events import (
    CarrierCommand,
    ClearAudio,
    DtmfReceived,
    MarkEchoed,
    MediaReceived,
    PlaceMark,
    PlayAudio,
    StreamStopped,
)
from gateway.telephony.paused_agent import PausedAgent, SentAudio
from kinds.audio import AudioFormat
from kinds.clock import Clock, SystemClock
from kinds.interruption import InterruptionSettings
from media.chains import InboundChain, OutboundChain
from media.interruption import InterruptionDecision
from media.playout import PlayoutBatch
from media.vad import SpeechStopped
from providers.events import ToolCall

log = logging.getLogger(__name__)

# After the policy's last decision, a speech start from the provider's VAD is taken for the same
# sound (it comes ~0.2-0.5 s after the onset), not as a new interruption.
POLICY_GRACE_S = 1.5
CARRIER_SILENCE_S = 10.0  # carriers stream a frame every 20 ms, silence included, all call long


ToolAnswer = Callable[[ToolCall], Awaitable[dict[str, Any]]]


class CallBridge:
    """One call's media between the carrier socket and its Conversation."""

    def __init__(
        self,
        ws: CarrierSocket,
        codec: CarrierCodec,
        capabilities: CarrierCapabilities,
        *,
        clock: Clock | None = None,
    ) -> None:
        check_supported(capabilities)
        self.traits = call_traits(capabilities)
        self._ws = ws
        self._codec = codec
        self._decode = codec.decode  # looked up once each: called for every frame
        self._encode = codec.encode
        self._clock = clock or SystemClock()
        self._binary_in = capabilities.frames == "binary"
        self._audio_opcode = WSMsgType.BINARY if self._binary_in else WSMsgType.TEXT
        self._tools: dict[str, ToolAnswer] = {}
        self._audio = capabilities.audio
        # Until the plan comes: the carrier's own format both ways, nothing converted.
        self._inbound = InboundChain(self._audio, self._audio)
        self._outbound = OutboundChain(self._audio, self._audio)
        self._conversation: EventSink | None = None
        self._interruption: InterruptionSettings | None = None
        self._noise_suppression = False
        self._sent = SentAudio(self._audio.bytes_per_ms)
        self._paused: PausedAgent | None = None
        self._last_decision_s = -POLICY_GRACE_S
        self._current_item: str | None = None
        self._cleared_items: set[str] = set()
        self._failed = False
        self._apologised = False
        self._cues = 0
        self.hung_up = False
        self.counters = CallCounters()

    # --- SessionClient ---------------------------------------------------------------------------

    def session_planned(self, plan: SessionPlan) -> None:
        """The carrier's audio passes straight through where the provider speaks it; otherwise
        the chains convert straight to and from the provider's PCM16 rate."""
        # Passed through, the caller's audio is still decoded for the VAD.
        self._inbound = self._inbound_chain(plan.inbound.port)
        if plan.outbound.port != self._outbound.port:
            self._outbound = OutboundChain(plan.outbound.port, self._audio)

    def configure_audio(
        self, interruption: InterruptionSettings | None, *, noise_suppression: bool
    ) -> None:
        """The assistant's interruption policy (None: any onset cuts the turn) and whether the
        caller's audio is denoised; before the session is planned."""
        self._interruption, self._noise_suppression = interruption, noise_suppression
        self._inbound = self._inbound_chain(self._inbound.port)

    def _inbound_chain(self, port: AudioFormat) -> InboundChain:
        return InboundChain(
            self._audio,
            port,
            noise_suppression=self._noise_suppression,
            interruption=self._interruption,
        )

    def set_tools(self, tools: Mapping[str, ToolAnswer]) -> None:
        """How this call answers the built-ins the plan gives it (``end_call``, transfer)."""
        self._tools = dict(tools)

    async def end_after_response(self, reason: str) -> None:
        if self._conversation is not None:
            await self._conversation.receive(EndAfterResponse(reason))

    async def answer_tool(self, call: ToolCall) -> dict[str, Any]:
        answer = self._tools.get(call.name)
        if answer is None:
            return {"error": f"tool {call.name!r} is not available on this call"}
        return await answer(call)

    async def deliver(self, message: ServerMessage) -> None:
        if isinstance(message, SessionError):
            self._failed = True
            await self._play_apology()  # at once: the caller must not wait on the wrap-up
        elif isinstance(message, TranscriptionUpdate) and message.source == "input":
            if (policy := self._inbound.policy) is not None:
                policy.heard_words(message.text)  # the words decide a pending interruption too
        elif isinstance(message, TurnComplete):
            if self._paused is not None:
                self._paused.turn_complete = True  # flushed when the agent resumes
            else:
                await self._send_batches(self._outbound.flush(), None)

    async def deliver_audio(self, audio: bytes, item_id: str) -> None:
        if item_id in self._cleared_items:
            return  # audio of an item the caller already talked over: never play it
        if self._paused is not None:  # kept for the caller, played if the agent resumes
            self._paused.hold(item_id, self._outbound.hold(item_id, audio))
            return
        started_s = time.perf_counter()
        self._current_item = item_id
        await self._send_batches(self._outbound.push(item_id, audio), started_s)

    async def play_cue(self, cue: Cue) -> float:
        """A prerecorded line, queued after what the carrier already has."""
        if self._apologised or self.hung_up or self._ws.closed:
            return 0.0
        self._cues += 1
        audio = cue_audio(cue, self._audio)
        batches = self._outbound.push_carrier(f"cue-{cue}-{self._cues}", audio)
        await self._send_batches(batches + self._outbound.flush(), None)
        return len(audio) / self._audio.bytes_per_ms / 1000

    async def stop_playout(self) -> None:
        """Drop what the carrier has queued (a transfer's hold loop once the caller is back)."""
        await self._send(ClearAudio())
        self._outbound.clear()

    async def caller_speech_started(self) -> bool:
        if self._policy_decides():
            return True  # the provider's VAD heard the sound the policy is judging: no cut
        if not self._outbound.audible:
            return False  # nothing playing: let the Conversation decide about the response
        await self._barge_in("provider")
        return True

    # --- carrier → conversation --------------------------------------------------------------

    async def read_carrier(self, conversation: EventSink) -> None:
        """Feed carrier frames to the conversation until the stream stops or the socket drops."""
        self._conversation = conversation
        watchdog = asyncio.create_task(self._watch_carrier(conversation), name="carrier-watchdog")
        try:
            await self._read_frames(conversation)
        finally:
            watchdog.cancel()
        self.hung_up = True
        await conversation.receive(EndSession("caller_hangup"))

    async def _read_frames(self, conversation: EventSink) -> None:
        ws, counters = self._ws, self.counters
        while (frame := await ws.receive()).type not in CLOSED_TYPES:
            counters.messages_in += 1
            kind = frame.type
            if kind is WSMsgType.TEXT or (kind is WSMsgType.BINARY and self._binary_in):
                if await self._on_carrier_frame(frame.data, conversation):
                    break
            elif kind is WSMsgType.BINARY:
                counters.bad("binary")

    async def _watch_carrier(self, conversation: EventSink) -> None:
        """End a call whose carrier stream has gone quiet (a dead peer or a half-open socket)."""
        await until_silent(self._clock, self.counters, CARRIER_SILENCE_S)
        log.warning(
            "carrier stream silent; ending the call", extra={"stream_id": self._codec.stream_id}
        )
        self.hung_up = True  # nobody is listening: nothing more to send or wait for
        await conversation.receive(EndSession("carrier_lost"))

    async def _on_carrier_frame(self, data: str | bytes, conversation: EventSink) -> bool:
        """Act on one carrier frame; True once the stream has stopped."""
        event = self._decode(data)
        match event:
            case MediaReceived(payload=payload):
                await self._on_media(payload, conversation)
            case MarkEchoed(name=name):
                if (mark := self._outbound.on_mark(name)) is not None:
                    self._sent.played(mark.item_id, mark.audio_end_ms)
            case DtmfReceived(digit=digit):
                await conversation.receive(CallerDigit(digit))
            case StreamStopped():
                return True
            case None:
                self.counters.bad("malformed")
        return False

    async def _on_media(self, payload: bytes, conversation: EventSink) -> None:
        started_s = time.perf_counter()
        self.counters.frames_in += 1
        result = self._inbound.process(payload, self._outbound.audible)
        if result.decision is not None:
            await self._on_decision(result.decision)
        elif result.barge_in is not None and self._interruption is None:
            await self._barge_in("local_vad")
        await conversation.receive(CallerAudio(result.audio))
        if (event := result.vad_event) is not None:
            # After the frame itself: the provider has the audio the event's times refer to.
            if isinstance(event, SpeechStopped):
                await conversation.receive(CallerTurnEnded(event.detected_ms - event.end_ms))
            else:
                await conversation.receive(CallerTurnStarted(event.detected_ms - event.start_ms))
        metrics.observe_frame("inbound", time.perf_counter() - started_s)

    # --- barge-in ----------------------------------------------------------------------------

    async def _barge_in(self, source: str) -> None:
        """Stop the agent at once and tell the provider what the caller really heard."""
        if self._apologised:
            return  # the session is over: the caller hears the apology to its end
        item = self._current_item
        confirmed_ms = self._outbound.tracker.played_ms(item) if item else 0
        await self._send(ClearAudio())
        heard = self._outbound.clear()
        self._inbound.agent_cleared()
        if item is None:
            return
        self._cleared_items.add(item)
        metrics.BARGE_INS.labels(source).inc()
        played_ms = heard.get(item, confirmed_ms)
        log.info("barge-in", extra={"source": source, "played_ms": played_ms})
        if self._conversation is not None:
            await self._conversation.receive(Interrupt(played_ms))

    def _policy_decides(self) -> bool:
        """Whether a caller sound is being judged by the policy, or just was: the provider's
        speech start (its VAD hears the same sound later) is then left to the policy."""
        if self._paused is not None:
            return True
        return self._clock.monotonic() - self._last_decision_s < POLICY_GRACE_S

    async def _on_decision(self, decision: InterruptionDecision) -> None:
        """The interruption policy's pause, resume or cut."""
        self._last_decision_s = self._clock.monotonic()
        if decision.action == "pause":
            await self._pause()
        elif decision.action == "resume":
            await self._resume()
        elif self._paused is not None:
            await self._cut_paused("policy")
        else:
            await self._barge_in("policy")

    async def _pause(self) -> None:
        """The caller started a sound: stop the agent at once, keep what was not heard."""
        item = self._current_item
        if item is None or item in self._cleared_items:
            return
        confirmed_ms = self._outbound.tracker.played_ms(item)
        await self._send(ClearAudio())
        heard_ms = self._outbound.clear().get(item, confirmed_ms)
        self._inbound.agent_cleared()
        self._paused = PausedAgent.at(item, heard_ms, self._sent.since(item, heard_ms))

    async def _resume(self) -> None:
        """Not a turn: play on from where the caller stopped hearing, nothing lost."""
        paused, self._paused = self._paused, None
        if paused is None:
            return
        metrics.FALSE_INTERRUPTIONS.inc()
        for held in paused.items:
            self._current_item = held.item_id
            self._sent.restart(held.item_id, held.start_ms)
            batches = self._outbound.resume(held.item_id, held.start_ms, bytes(held.audio))
            await self._send_batches(batches, None)
        if paused.turn_complete:
            await self._send_batches(self._outbound.flush(), None)

    async def _cut_paused(self, source: str) -> None:
        """A turn after all: the agent stays stopped; the provider learns what was heard."""
        paused, self._paused = self._paused, None
        if paused is None:
            return
        self._cleared_items.update(held.item_id for held in paused.items)
        metrics.BARGE_INS.labels(source).inc()
        log.info("barge-in", extra={"source": source, "played_ms": paused.heard_ms})
        if self._conversation is not None:
            await self._conversation.receive(Interrupt(paused.heard_ms))

    # --- conversation → carrier --------------------------------------------------------------

    async def _send_batches(self, batches: list[PlayoutBatch], started_s: float | None) -> None:
        """Frames then their mark; ``started_s`` (when the provider's audio came in) times them."""
        for batch in batches:
            if batch.mark.item_id in self._cleared_items:
                return
            for frame in batch.frames:
                await self._send(PlayAudio(frame), self._audio_opcode)
                if self._interruption is not None:  # kept to resume, and the echo's reference
                    self._sent.sent(batch.mark.item_id, frame)
                    self._inbound.agent_played(frame)
                if started_s is not None:
                    metrics.observe_frame("outbound", time.perf_counter() - started_s)
            await self._send(PlaceMark(batch.mark.name))

    async def _send(self, command: CarrierCommand, opcode: WSMsgType = WSMsgType.TEXT) -> None:
        if self._ws.closed or self.hung_up:
            return
        try:
            await self._ws.send_frame(self._encode(command), opcode)
        except ConnectionError:
            # The carrier is already closing the socket: the call is over, say so once.
            self.hung_up = True

    # --- the end of the call -----------------------------------------------------------------

    async def finish(self) -> None:
        """Before closing: let the caller hear the last words (or the apology) in full."""
        if self.hung_up or self._ws.closed:
            return
        await self._resume()  # paused for a sound the policy had not judged yet: say it all
        await self._send_batches(self._outbound.flush(), None)
        if self._failed:
            await self._play_apology()
        await wait_for_playout(self._ws, self._codec, self._outbound, binary_in=self._binary_in)

    async def _play_apology(self) -> None:
        """Once per call, after whatever the carrier already has queued."""
        if self._apologised or self.hung_up or self._ws.closed:
            return
        self._apologised = True
        apology = apology_audio(self._audio)
        batches = self._outbound.push_carrier("apology", apology) + self._outbound.flush()
        await self._send_batches(batches, None)
