"""Turn bookkeeping: which input each answer answers, and the transcript in the order said.

A turn is the caller's input and the assistant's answer to it. Input that arrives while an
answer is already being given (a ``textMessage`` typed during the greeting, speech over the
assistant) belongs to the *next* turn: it is held until the current answer completes, so every
``turnComplete`` pairs an answer with the input it answers and the stored transcript keeps the
order in which things were said.

Each turn has an id (1, 2, ... in the session; the greeting is turn 1), a duration (its first
input or answer → its completion) and a reply latency (the caller's end of turn → the first
agent audio or text of the answer), all measured on the session's clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from gateway.sessions.protocol import TurnComplete
from gateway.sessions.transcripts import TurnRecord
from kinds.clock import Clock

MAX_AMENDABLE_ITEMS = 8  # truncation only ever concerns the latest few assistant items
HUMAN_TURN_TEXT = "(a supervisor spoke with the caller)"
"""The transcript's mark for a span a person held the call: their speech is not transcribed."""


class TurnStore(Protocol):
    """Where finished utterances go (the transcript writer, keyed to one session)."""

    def add(self, first_seq: int, records: tuple[TurnRecord, ...], completed: bool) -> None:
        """Store utterances numbered from ``first_seq``; ``completed`` counts a turn."""

    def amend(self, seq: int, text: str) -> None:
        """Replace utterance ``seq``'s text with what the caller really heard (cut off)."""


@dataclass(slots=True)
class _Turn:
    """One turn in the making: the input, then the answer."""

    turn_id: int
    opened_s: float | None = None
    """When its input or answer began (monotonic), for ``duration_ms``."""
    input_done_s: float | None = None
    """When the caller's turn ended (monotonic), for ``latency_ms``."""
    latency_ms: int | None = None
    user_started: bool = False
    input_at: datetime | None = None
    input_text: list[str] = field(default_factory=list)
    answer_at: datetime | None = None
    item_id: str | None = None
    output_text: list[str] = field(default_factory=list)
    agent_spoke: bool = False

    @property
    def answering(self) -> bool:
        return self.answer_at is not None


@dataclass(frozen=True, slots=True)
class CompletedTurn:
    """What a ``turnComplete`` reports."""

    full_input: str
    full_output: str
    stored: bool
    turn_id: int = 0
    latency_ms: int | None = None
    duration_ms: int | None = None

    def message(self, *, interrupted: bool) -> TurnComplete:
        """The ``turnComplete`` the client is sent for this turn."""
        return TurnComplete(
            full_input=self.full_input,
            full_output=self.full_output,
            interrupted=interrupted,
            turn_id=self.turn_id,
            latency_ms=self.latency_ms,
            duration_ms=self.duration_ms,
        )


@dataclass(frozen=True, slots=True)
class TurnBegun:
    """A turn's caller input or assistant answer has just begun (``turnStarted``)."""

    role: Literal["user", "assistant"]
    turn_id: int


class TurnLog:
    """Pairs inputs with answers and hands finished turns to the ``TurnStore``."""

    def __init__(self, store: TurnStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._turns_opened = 0
        self._turn = self._new_turn()
        self._next: _Turn | None = None  # input for the turn after the one being answered
        self._next_seq = 0
        self._item_seq: dict[str, int] = {}  # assistant item id → stored utterance
        self._human_since: datetime | None = None
        self.turns_stored = 0

    @property
    def answering(self) -> bool:
        return self._turn.answering

    def caller_said(self, text: str, *, new_turn: bool) -> TurnBegun | None:
        """Caller input: typed text (``new_turn``: it starts a new exchange) or a transcript of
        their speech (it belongs to the turn its speech started)."""
        turn = self._input_turn() if new_turn else self._speech_turn()
        if turn.input_at is None:
            turn.input_at = self._clock.now()
        turn.input_text.append(text)
        return self._user_began(turn)

    def caller_started_speaking(self) -> TurnBegun | None:
        """Speech that starts while an answer is given is the next turn's input."""
        if self._turn.answering and self._next is None:
            self._next = self._new_turn()
        return self._user_began(self._speech_turn())

    def caller_turn_ended(self) -> None:
        """The caller finished speaking or sent text: the answer's latency counts from now."""
        self._speech_turn().input_done_s = self._clock.monotonic()

    def agent_audio(self, item_id: str) -> TurnBegun | None:
        turn, begun = self._answer(item_id)
        turn.agent_spoke = True
        return begun

    def agent_said(self, text: str, item_id: str | None) -> TurnBegun | None:
        turn, begun = self._answer(item_id)
        turn.output_text.append(text)
        return begun

    def amend(self, item_id: str, text: str) -> None:
        """The caller heard only ``text`` of this item: store that, not what was generated."""
        if self._turn.item_id == item_id:
            self._turn.output_text = [text]
        elif item_id in self._item_seq:
            self._store.amend(self._item_seq[item_id], text)

    def complete(self, *, interrupted: bool) -> CompletedTurn:
        """The answer is done: store the turn, and start the next with any input held back."""
        turn = self._turn
        full_input, full_output = "".join(turn.input_text), "".join(turn.output_text)
        stored = self._flush(turn, interrupted=interrupted)
        self._turn, self._next = self._next or self._new_turn(), None
        return CompletedTurn(
            full_input,
            full_output,
            stored,
            turn.turn_id,
            turn.latency_ms,
            self._elapsed_ms(turn.opened_s),
        )

    def supervisor_took_over(self) -> None:
        self._human_since = self._clock.now()

    def supervisor_handed_back(self) -> None:
        """Close the turns in the making, then store the span a person held the call as a
        ``human`` utterance of its own."""
        since, self._human_since = self._human_since, None
        self.close()
        if since is not None:
            self._store_records((TurnRecord("human", HUMAN_TURN_TEXT, since, self._clock.now()),))

    def close(self) -> None:
        """The session ended: store what was said of unfinished turns, in order."""
        self._flush(self._turn, interrupted=True)
        if self._next is not None:
            self._flush(self._next, interrupted=True)
        self._turn, self._next = self._new_turn(), None
        if self._human_since is not None:
            self.supervisor_handed_back()

    def _new_turn(self) -> _Turn:
        self._turns_opened += 1
        return _Turn(self._turns_opened)

    def _elapsed_ms(self, since_s: float | None) -> int | None:
        return None if since_s is None else round((self._clock.monotonic() - since_s) * 1000)

    def _user_began(self, turn: _Turn) -> TurnBegun | None:
        if turn.user_started:
            return None
        turn.user_started = True
        if turn.opened_s is None:
            turn.opened_s = self._clock.monotonic()
        return TurnBegun("user", turn.turn_id)

    def _input_turn(self) -> _Turn:
        if not self._turn.answering:
            return self._turn
        if self._next is None:
            self._next = self._new_turn()
        return self._next

    def _speech_turn(self) -> _Turn:
        return self._next if self._next is not None else self._turn

    def _answer(self, item_id: str | None) -> tuple[_Turn, TurnBegun | None]:
        turn, begun = self._turn, None
        if turn.answer_at is None:
            turn.answer_at = self._clock.now()
            turn.latency_ms = self._elapsed_ms(turn.input_done_s)
            if turn.opened_s is None:
                turn.opened_s = self._clock.monotonic()
            begun = TurnBegun("assistant", turn.turn_id)
        if item_id is not None:
            turn.item_id = item_id
        return turn, begun

    def _flush(self, turn: _Turn, *, interrupted: bool) -> bool:
        now = self._clock.now()
        records: list[TurnRecord] = []
        if turn.input_text and turn.input_at is not None:
            text = "".join(turn.input_text)
            records.append(TurnRecord("user", text, turn.input_at, now, turn_id=turn.turn_id))
        if (turn.output_text or turn.agent_spoke) and turn.answer_at is not None:
            if turn.item_id is not None:
                self._remember_item(turn.item_id, self._next_seq + len(records))
            text = "".join(turn.output_text)
            records.append(
                TurnRecord(
                    "assistant",
                    text,
                    turn.answer_at,
                    now,
                    interrupted,
                    turn_id=turn.turn_id,
                    latency_ms=turn.latency_ms,
                )
            )
        if not records:
            return False
        # A turn the session's end cut short still counts: total_turns is the turns stored.
        self._store_records(tuple(records))
        return True

    def _store_records(self, records: tuple[TurnRecord, ...]) -> None:
        self._store.add(self._next_seq, records, True)
        self._next_seq += len(records)
        self.turns_stored += 1

    def _remember_item(self, item_id: str, seq: int) -> None:
        self._item_seq[item_id] = seq
        if len(self._item_seq) > MAX_AMENDABLE_ITEMS:
            del self._item_seq[next(iter(self._item_seq))]
