"""Server events → provider-neutral ``ProviderEvent``s, plus the response state they imply.

One translator lives as long as the provider session (across reconnects); ``new_connection``
forgets what only the old connection knew (response ids, the audio item one could truncate).
It is synchronous and does no I/O: the session sends whatever it asks for.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from providers.errors import ProviderProtocolError
from providers.events import (
    AgentAudio,
    CallerSpeechStarted,
    CallerSpeechStopped,
    OutputTruncated,
    ProviderEvent,
    ResponseDone,
    ToolCall,
    TranscriptDelta,
)
from providers.openai_realtime import faults, wire
from providers.openai_realtime.history import ConversationHistory

log = logging.getLogger(__name__)

Handler = Callable[[wire.Event], list[ProviderEvent]]


@dataclass(frozen=True, slots=True)
class InterruptPlan:
    """What ``interrupt`` sends, and the heard text to report (if an item was cut)."""

    client_events: list[wire.Event]
    truncated: OutputTruncated | None


class ServerEventTranslator:
    """Dispatches server events by ``type`` through a table; unknown types are ignored."""

    def __init__(
        self,
        history: ConversationHistory,
        output_bytes_per_ms: int,
        *,
        server_interrupts: bool = False,
    ) -> None:
        """``server_interrupts``: the session's server VAD has ``interrupt_response`` on, so the
        server cancels the response in flight itself when it hears the caller start."""
        self.history = history
        self._bytes_per_ms = output_bytes_per_ms
        self._server_interrupts = server_interrupts
        self._server_cancelled = False  # the server is cancelling the current response itself
        self.response_active = False
        self.in_speech = False
        self.completed_responses = 0
        self.outstanding_calls: set[str] = set()
        self._reply_due = False
        self._response_id: str | None = None
        self._cancelled: set[str] = set()
        self._cancel_next_created = False
        self._seen_calls: set[str] = set()
        self._input_emitted: dict[str, str] = {}
        self._audio_item_id: str | None = None
        self._audio_item_bytes = 0
        self._handlers: dict[str, Handler] = {
            "error": self._on_error,
            "input_audio_buffer.speech_started": self._on_speech_started,
            "input_audio_buffer.speech_stopped": self._on_speech_stopped,
            "input_audio_buffer.committed": self._on_committed,
            "conversation.item.input_audio_transcription.delta": self._on_input_delta,
            "conversation.item.input_audio_transcription.completed": self._on_input_completed,
            "conversation.item.input_audio_transcription.failed": self._on_input_failed,
            "response.created": self._on_response_created,
            "response.output_item.added": self._on_output_item_added,
            "response.output_audio.delta": self._on_audio_delta,
            "response.output_audio_transcript.delta": self._on_output_text_delta,
            "response.output_text.delta": self._on_output_text_delta,
            "response.function_call_arguments.done": self._on_function_call_done,
            "response.done": self._on_response_done,
        }

    def handle(self, event: wire.Event) -> list[ProviderEvent]:
        """Events for one server message; raises ``ProviderError`` when the session must end
        (fatal) or reconnect (retryable, e.g. ``session_expired``)."""
        handler = self._handlers.get(event["type"])
        return handler(event) if handler is not None else []

    def new_connection(self) -> None:
        """A fresh connection knows nothing of the old one's responses and audio items."""
        self.response_active = False
        self.in_speech = False
        self._cancel_next_created = False
        self._server_cancelled = False
        self._response_id = None
        self._audio_item_id = None
        self._audio_item_bytes = 0

    def is_idle(self) -> bool:
        """Nothing in flight: a good moment to recycle the connection."""
        return not (
            self.response_active
            or self.in_speech
            or self.outstanding_calls
            or self.history.awaiting_reply()
            or self.history.transcription_pending()
        )

    # Replies: one response at a time, and only when every tool call has its result.

    def want_reply(self) -> bool:
        """Whether to send ``response.create`` now; otherwise it goes out after the current one."""
        if self.outstanding_calls:
            return False
        if self.response_active:
            self._reply_due = True
            return False
        self._reply_due = False
        self.response_active = True  # until the server's response.done
        return True

    def take_reply_due(self) -> bool:
        """After a response ends: whether a deferred ``response.create`` should go out now."""
        if not self._reply_due or self.outstanding_calls or self.response_active:
            return False
        self._reply_due = False
        self.response_active = True
        return True

    # Barge-in.

    def plan_interrupt(self, played_ms: int | None) -> InterruptPlan:
        """Cancel the response in flight and cut the current audio item at ``played_ms``."""
        client_events: list[wire.Event] = []
        # Not when the server cancelled it on its own speech start (protocols.md §3.6): it
        # would only answer response_cancel_not_active.
        if self.response_active and not self._server_cancelled:
            client_events.append(wire.response_cancel())
            if self._response_id is not None:
                self._cancelled.add(self._response_id)
            else:  # asked for but not yet created: it is the next response.created
                self._cancel_next_created = True
        item_id, sent_ms = self._audio_item_id, self._audio_item_bytes // self._bytes_per_ms
        if item_id is None or sent_ms == 0:
            return InterruptPlan(client_events, None)
        # Never past what we received (the API rejects that), never below zero.
        audio_end_ms = sent_ms if played_ms is None else max(0, min(played_ms, sent_ms))
        client_events.append(wire.item_truncate(item_id, audio_end_ms))
        self._audio_item_id, self._audio_item_bytes = None, 0
        entry = self.history.reserve("assistant", item_id)
        entry.text = heard_prefix(entry.text, audio_end_ms / sent_ms)
        return InterruptPlan(client_events, OutputTruncated(item_id, audio_end_ms, entry.text))

    # Handlers.

    def _on_error(self, event: wire.Event) -> list[ProviderEvent]:
        error: dict[str, Any] = event.get("error") or {}
        failure = faults.from_error_event(error)
        if failure is not None:
            raise failure
        if error.get("code") == faults.CANCEL_NOT_ACTIVE:
            # Our cancel crossed the response's end on the wire: nothing was left to cancel.
            log.debug("openai realtime response already over at our cancel")
            return []
        log.warning(
            "openai realtime error event",
            extra={"error_code": error.get("code"), "error_type": error.get("type")},
        )
        if self.response_active and self._response_id is None:
            self.response_active = False  # our response.create was probably what failed
        return []

    def _on_speech_started(self, event: wire.Event) -> list[ProviderEvent]:
        self.in_speech = True
        # The server cancels the response it has created; one we asked for and it has not yet
        # created is not cut (it comes after this speech start): that one we cancel ourselves.
        if self._server_interrupts and self.response_active and self._response_id is not None:
            self._server_cancelled = True
            self._cancelled.add(self._response_id)  # what is still in flight must not be heard
        return [CallerSpeechStarted()]

    def _on_speech_stopped(self, event: wire.Event) -> list[ProviderEvent]:
        self.in_speech = False
        return [CallerSpeechStopped()]

    def _on_committed(self, event: wire.Event) -> list[ProviderEvent]:
        self.in_speech = False
        self.history.reserve("user", str(event["item_id"]))
        return []

    def _on_input_delta(self, event: wire.Event) -> list[ProviderEvent]:
        item_id, delta = str(event["item_id"]), str(event.get("delta") or "")
        self._input_emitted[item_id] = self._input_emitted.get(item_id, "") + delta
        return [TranscriptDelta("input", delta, item_id)] if delta else []

    def _on_input_completed(self, event: wire.Event) -> list[ProviderEvent]:
        item_id, transcript = str(event["item_id"]), str(event.get("transcript") or "")
        entry = self.history.reserve("user", item_id)
        entry.text, entry.pending = transcript, False
        emitted = self._input_emitted.pop(item_id, "")
        rest = transcript[len(emitted) :] if transcript.startswith(emitted) else ""
        return [TranscriptDelta("input", rest, item_id, final=True)]

    def _on_input_failed(self, event: wire.Event) -> list[ProviderEvent]:
        item_id = str(event["item_id"])
        self.history.reserve("user", item_id).pending = False
        self._input_emitted.pop(item_id, None)
        return [TranscriptDelta("input", "", item_id, final=True)]

    def _on_response_created(self, event: wire.Event) -> list[ProviderEvent]:
        self.response_active = True
        self._server_cancelled = False
        self._response_id = (event.get("response") or {}).get("id")
        if self._cancel_next_created and self._response_id is not None:
            self._cancelled.add(self._response_id)
            self._cancel_next_created = False
        return []

    def _on_output_item_added(self, event: wire.Event) -> list[ProviderEvent]:
        item: dict[str, Any] = event.get("item") or {}
        live = event.get("response_id") not in self._cancelled
        if live and item.get("type") == "message" and item.get("role") == "assistant":
            self.history.reserve("assistant", str(item["id"]))
        return []

    def _on_audio_delta(self, event: wire.Event) -> list[ProviderEvent]:
        if event.get("response_id") in self._cancelled:
            return []  # already cancelled by a barge-in: the caller must not hear it
        item_id = str(event["item_id"])
        try:
            audio = wire.decode_audio(str(event["delta"]))
        except ProviderProtocolError:
            log.warning("openai realtime sent invalid audio", extra={"item_id": item_id})
            return []
        if item_id != self._audio_item_id:
            self._audio_item_id, self._audio_item_bytes = item_id, 0
        self._audio_item_bytes += len(audio)
        return [AgentAudio(audio, item_id)]

    def _on_output_text_delta(self, event: wire.Event) -> list[ProviderEvent]:
        if event.get("response_id") in self._cancelled:
            return []
        item_id, delta = str(event["item_id"]), str(event.get("delta") or "")
        self.history.reserve("assistant", item_id).text += delta
        return [TranscriptDelta("output", delta, item_id)] if delta else []

    def _on_function_call_done(self, event: wire.Event) -> list[ProviderEvent]:
        return self._tool_call(
            str(event["call_id"]), str(event["name"]), str(event.get("arguments") or "{}")
        )

    def _tool_call(self, call_id: str, name: str, arguments_json: str) -> list[ProviderEvent]:
        if call_id in self._seen_calls:
            return []
        self._seen_calls.add(call_id)
        self.outstanding_calls.add(call_id)
        self.history.add_function_call(call_id, name, arguments_json)
        return [ToolCall(call_id, name, parse_arguments(arguments_json))]

    def _on_response_done(self, event: wire.Event) -> list[ProviderEvent]:
        response: dict[str, Any] = event.get("response") or {}
        status = response.get("status")
        self.response_active, self._response_id = False, None
        self._server_cancelled = False
        if status == "failed":
            details: dict[str, Any] = response.get("status_details") or {}
            failure = faults.from_error_event(details.get("error") or {})
            if failure is not None:
                raise failure
        cancelled = status == "cancelled" or response.get("id") in self._cancelled
        outputs: list[dict[str, Any]] = response.get("output") or []
        events: list[ProviderEvent] = []
        for item in outputs:
            if item.get("type") == "function_call" and not cancelled:
                events += self._tool_call(
                    str(item.get("call_id")), str(item.get("name")), str(item.get("arguments"))
                )
        message_ids = [str(item["id"]) for item in outputs if item.get("type") == "message"]
        if status == "completed":
            self.completed_responses += 1
        calls_only = bool(outputs) and not message_ids and not cancelled
        if not calls_only:  # the model goes on after the tool results: the turn is not over
            item_id = message_ids[0] if message_ids else None
            events.append(ResponseDone(item_id, interrupted=cancelled))
        return events


def heard_prefix(text: str, fraction_played: float) -> str:
    """The words of ``text`` the caller heard, if ``fraction_played`` of its audio was played.

    The API keeps no text for a truncated item, and transcript deltas do not carry timings, so
    this assumes the words are spread evenly over the audio and keeps only whole words.
    """
    if fraction_played >= 1.0:
        return text
    cut = int(len(text) * max(0.0, fraction_played))
    heard = text[:cut]
    if cut < len(text) and not text[cut].isspace():
        heard = heard[: heard.rfind(" ") + 1] if " " in heard else ""
    return heard.rstrip()


def parse_arguments(arguments_json: str) -> dict[str, Any]:
    """Tool arguments as a dict; a model's malformed JSON becomes ``{}`` (logged), not a crash."""
    try:
        arguments = json.loads(arguments_json)
    except ValueError:
        arguments = None
    if not isinstance(arguments, dict):
        log.warning("openai realtime tool arguments are not a JSON object")
        return {}
    return arguments
