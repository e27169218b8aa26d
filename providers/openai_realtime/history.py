"""The conversation so far, kept by the provider so a new connection can be re-seeded with it.

A dropped or recycled OpenAI connection forgets everything; the replacement gets the same
instructions and tools plus this history as conversation items. Entries are reserved in
conversation order when an item appears (the caller's turn when its audio is committed, the
assistant's when its item is added) and filled in as transcripts arrive, because input
transcription is asynchronous and may land after the reply.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from providers.openai_realtime import wire
from providers.spec import HistoryItem

EntryKind = Literal["user", "assistant", "function_call", "function_call_output"]


@dataclass(slots=True)
class Entry:
    """One conversation item; ``text`` is the utterance (or tool arguments/output as JSON)."""

    kind: EntryKind
    text: str = ""
    item_id: str | None = None
    call_id: str | None = None
    name: str | None = None
    pending: bool = False
    """Reserved but not yet known (a caller turn whose transcript has not arrived)."""


class ConversationHistory:
    """Ordered entries with lookup by item id and call id."""

    def __init__(self, seed: Iterable[HistoryItem] = (), *, window: int | None = None) -> None:
        self._entries: list[Entry] = [Entry(kind=item.role, text=item.text) for item in seed]
        self._by_item: dict[str, Entry] = {}
        self._window = window
        """Utterances a fresh connection is given at most (None: all of them)."""

    def __len__(self) -> int:
        return len(self._entries)

    def entry(self, item_id: str) -> Entry | None:
        return self._by_item.get(item_id)

    def reserve(self, kind: Literal["user", "assistant"], item_id: str) -> Entry:
        """The entry for ``item_id``, appended now (in conversation order) if new."""
        existing = self._by_item.get(item_id)
        if existing is not None:
            return existing
        entry = Entry(kind=kind, item_id=item_id, pending=kind == "user")
        self._entries.append(entry)
        self._by_item[item_id] = entry
        return entry

    def add_user_text(self, text: str) -> None:
        self._entries.append(Entry(kind="user", text=text))

    def add_function_call(self, call_id: str, name: str, arguments_json: str) -> None:
        self._entries.append(
            Entry(kind="function_call", text=arguments_json, call_id=call_id, name=name)
        )

    def add_function_output(self, call_id: str, output_json: str) -> None:
        self._entries.append(Entry(kind="function_call_output", text=output_json, call_id=call_id))

    def awaiting_reply(self) -> bool:
        """The last word is the caller's (or a tool's): the assistant owes a reply."""
        for entry in reversed(self._entries):
            if entry.kind == "function_call":
                return False  # the gateway owes a tool result first
            if entry.kind == "user" and not entry.text and not entry.pending:
                continue
            return entry.kind in ("user", "function_call_output")
        return False

    def transcription_pending(self) -> bool:
        return any(entry.pending for entry in self._entries)

    def replay_items(self) -> list[wire.Event]:
        """Conversation items that rebuild this history on a fresh connection."""
        entries = self._entries[self._replay_start() :]
        return [item for entry in entries if (item := _as_item(entry)) is not None]

    def _replay_start(self) -> int:
        """Where the last ``window`` utterances begin; a tool's output is never replayed
        without the call it answers."""
        if self._window is None:
            return 0
        start, kept = len(self._entries), 0
        while start > 0 and kept < self._window:
            start -= 1
            kept += self._entries[start].kind in ("user", "assistant")
        while start < len(self._entries) and self._entries[start].kind == "function_call_output":
            start += 1
        return start


def _as_item(entry: Entry) -> wire.Event | None:
    match entry.kind:
        case "user":
            return wire.user_text_item(entry.text) if entry.text else None
        case "assistant":
            return wire.assistant_text_item(entry.text) if entry.text else None
        case "function_call":
            assert entry.call_id is not None and entry.name is not None
            return wire.function_call_item(entry.call_id, entry.name, entry.text or "{}")
        case "function_call_output":
            assert entry.call_id is not None
            return wire.function_call_output_item(entry.call_id, entry.text or json.dumps(None))
