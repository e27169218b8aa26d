"""Gemini's turn stream as provider-neutral events, plus the transcript of the conversation.

Gemini has no item ids: each model turn gets a generated one. After a barge-in (the server's
``interrupted`` or our own ``interrupt``) the rest of that turn is stale and dropped until the
server's ``turnComplete``. TranscriptDelta deltas are accumulated per turn into ``history`` so that
a fresh session can be re-seeded with the conversation so far.
"""

from __future__ import annotations

import uuid

from providers.events import (
    AgentAudio,
    CallerSpeechStarted,
    ProviderEvent,
    ResponseDone,
    ToolCall,
    ToolCallsCancelled,
    TranscriptDelta,
)
from providers.gemini_live.decode import (
    FunctionCall,
    InputTranscription,
    Interrupted,
    ModelAudio,
    ModelText,
    OutputTranscription,
    ServerNote,
    ServerTurnComplete,
    ToolCallCancellation,
)
from providers.spec import HistoryItem


def new_item_id() -> str:
    """A unique id for one model turn (Gemini has none of its own)."""
    return f"gemini_{uuid.uuid4().hex}"


class TurnTracker:
    """Turns server notes into events; knows the current item, stale audio and pending calls."""

    def __init__(self, history: tuple[HistoryItem, ...] = ()) -> None:
        self.history: list[HistoryItem] = list(history)
        self._item_id: str | None = None
        self._stale = False
        self._heard: list[str] = []
        self._said: list[str] = []
        self._pending_calls: dict[str, str] = {}

    @property
    def in_turn(self) -> bool:
        """The model is producing a turn (or one is open awaiting ``turnComplete``)."""
        return self._item_id is not None or self._stale or bool(self._pending_calls)

    def apply(self, note: ServerNote) -> list[ProviderEvent]:
        """The events one turn-related note produces (other notes produce none)."""
        match note:
            case ModelAudio(pcm16=pcm16):
                return [] if self._stale else [AgentAudio(pcm16, self._open_item())]
            case ModelText(text=text) | OutputTranscription(text=text):
                if self._stale:
                    return []
                self._said.append(text)
                return [TranscriptDelta("output", text, item_id=self._open_item())]
            case InputTranscription(text=text, finished=finished):
                self._heard.append(text)
                return [TranscriptDelta("input", text, final=finished)]
            case Interrupted():
                return [CallerSpeechStarted(), *self.interrupt()]
            case ServerTurnComplete():
                return self._complete_turn()
            case FunctionCall():
                return [self._tool_call(note)]
            case ToolCallCancellation(call_ids=call_ids):
                for call_id in call_ids:
                    self._pending_calls.pop(call_id, None)
                return [ToolCallsCancelled(call_ids)] if call_ids else []
            case _:
                return []

    def interrupt(self) -> list[ProviderEvent]:
        """End the current item as interrupted; its remaining audio is dropped when it arrives."""
        if self._item_id is None:
            return []
        item_id = self._item_id
        self._stale = True
        self._end_turn()
        return [ResponseDone(item_id, interrupted=True)]

    def take_tool_call(self, call_id: str) -> str | None:
        """The function name of a call still awaiting its result, forgetting it; else None."""
        return self._pending_calls.pop(call_id, None)

    def user_text(self, text: str) -> None:
        """Record a typed user turn in the history."""
        self._flush_heard()
        self.history.append(HistoryItem("user", text))

    def connection_lost(self) -> list[ProviderEvent]:
        """The connection ended: its open turn ends as interrupted (what was said so far stays
        in the history) and its calls can no longer be answered."""
        events = self.interrupt()
        self._stale = False
        self._pending_calls.clear()
        self._end_turn()
        return events

    def _open_item(self) -> str:
        if self._item_id is None:
            self._item_id = new_item_id()
        return self._item_id

    def _tool_call(self, note: FunctionCall) -> ToolCall:
        call_id = note.call_id or f"call_{uuid.uuid4().hex}"
        self._pending_calls[call_id] = note.name
        return ToolCall(call_id, note.name, note.args)

    def _complete_turn(self) -> list[ProviderEvent]:
        if self._stale:  # already reported as interrupted
            self._stale = False
            return []
        item_id = self._item_id
        self._end_turn()
        return [] if item_id is None else [ResponseDone(item_id)]

    def _end_turn(self) -> None:
        self._flush_heard()
        said = "".join(self._said).strip()
        if said:
            self.history.append(HistoryItem("assistant", said))
        self._said.clear()
        self._item_id = None

    def _flush_heard(self) -> None:
        heard = "".join(self._heard).strip()
        if heard:
            self.history.append(HistoryItem("user", heard))
        self._heard.clear()
