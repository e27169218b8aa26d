"""A warm transfer's state machine: pure, so every state × event is a row in a table test.

The caller stays on the assistant's media stream (hearing the hold loop) while Kura dials the
human on a second leg. The carrier's callbacks on that leg (ringing, answered, the key pressed
after the whisper, its final status), the caller hanging up and our own guard timer are the
events; ``step`` says the next state and what the transfer must do. It never does I/O.

::

    dialing ─ringing→ ringing ─answered→ whispering ─accept→ bridging ─caller_joined→ accepted
       │                 │                   │                  ├─hang-up / timeout→ dropped
       │                 │                   │                  └─caller_gone→ caller_gone
       │                 │                   ├─decline / hang-up / timeout→ declined
       ├─busy→ busy      ├─no_answer / timeout→ no_answer
       ├─failed→ failed  └─ …                └─ caller_gone→ caller_gone (leg hung up)
       └─caller_gone→ caller_gone

``bridging``: the human pressed 1 and waits in the conference; the caller's stream is closing
and the carrier is about to ask where the caller goes (``caller_joined``, from what follows the
stream: Twilio's and SignalWire's ``<Connect action>``, Telnyx's and Plivo's ``<Redirect>``,
Vonage's REST hand-over). A human who hangs up before then (``dropped``) must not leave the
caller alone in a silent conference: the caller is sent back to the assistant if still on its
stream, else gets an apology. Once ``accepted`` (the caller sent into the conference), the
human's hang-up sees the caller out (``see_caller_out``), since a caller who reached the room
just after they left would be alone. Every other state is final: later events change nothing
(carriers retry their callbacks, and a leg's last status comes after the decision).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TransferState = Literal[
    "dialing",
    "ringing",
    "whispering",
    "bridging",
    "accepted",
    "dropped",
    "declined",
    "no_answer",
    "busy",
    "failed",
    "caller_gone",
]
TransferEvent = Literal[
    "ringing",  # the human's phone rings
    "answered",  # they picked up: the whisper plays
    "accept",  # they pressed 1
    "decline",  # any other key, or no key before the whisper's timeout
    "completed",  # their leg ended (a hang-up)
    "busy",
    "no_answer",
    "failed",  # the leg could not be placed, or the carrier failed it
    "caller_gone",  # the caller hung up
    "timeout",  # our guard: no decision in time
    "caller_joined",  # the caller's stream closed and the caller is sent into the conference
]
TransferAction = Literal[
    "bridge",  # the assistant leaves, the caller joins the human's conference
    "hang_up_leg",  # end the human's leg (cancel it while it rings)
    "return_to_assistant",  # stop the hold, the caller is back, the assistant is told why
    "see_caller_out",  # the caller's call leaves the conference with a goodbye (REST)
]

ACTIVE: frozenset[TransferState] = frozenset({"dialing", "ringing", "whispering", "bridging"})
"""States with a leg still in play; the others are the transfer's outcome."""


@dataclass(frozen=True, slots=True)
class Transition:
    """Where an event leads, and what to do about it (in order)."""

    state: TransferState
    actions: tuple[TransferAction, ...] = ()


_BACK: tuple[TransferAction, ...] = ("return_to_assistant",)
_CANCEL_AND_BACK: tuple[TransferAction, ...] = ("hang_up_leg", "return_to_assistant")

# Before the human answers: the leg's own outcome sends the caller back to the assistant.
_RINGING_TABLE: dict[TransferEvent, Transition] = {
    "ringing": Transition("ringing"),
    "answered": Transition("whispering"),
    "busy": Transition("busy", _BACK),
    "no_answer": Transition("no_answer", _BACK),
    "failed": Transition("failed", _BACK),
    "completed": Transition("failed", _BACK),  # ended before it was answered: not a decision
    "caller_gone": Transition("caller_gone", ("hang_up_leg",)),
    "timeout": Transition("no_answer", _CANCEL_AND_BACK),
}
_WHISPER_TABLE: dict[TransferEvent, Transition] = {
    "accept": Transition("bridging", ("bridge",)),
    # The decision webhook answers the human's leg with a goodbye and a hang-up itself.
    "decline": Transition("declined", _BACK),
    "completed": Transition("declined", _BACK),  # they hung up during the whisper
    "busy": Transition("declined", _BACK),
    "no_answer": Transition("declined", _BACK),
    "failed": Transition("declined", _BACK),
    "caller_gone": Transition("caller_gone", ("hang_up_leg",)),
    "timeout": Transition("declined", _CANCEL_AND_BACK),
}
_BRIDGING_TABLE: dict[TransferEvent, Transition] = {
    "caller_joined": Transition("accepted", ("bridge",)),  # done by the caller's webhook
    # They hung up after pressing 1: the caller's node brings the caller back if it still can;
    # else the caller's own webhook, finding the transfer dropped, apologises.
    "completed": Transition("dropped", _BACK),
    "failed": Transition("dropped", _BACK),
    "caller_gone": Transition("caller_gone", ("hang_up_leg",)),
    "timeout": Transition("dropped", _CANCEL_AND_BACK),
}
_ACCEPTED_TABLE: dict[TransferEvent, Transition] = {
    "completed": Transition("accepted", ("see_caller_out",)),
}
TABLE: dict[TransferState, dict[TransferEvent, Transition]] = {
    "dialing": _RINGING_TABLE,
    "ringing": _RINGING_TABLE,
    "whispering": _WHISPER_TABLE,
    "bridging": _BRIDGING_TABLE,
    "accepted": _ACCEPTED_TABLE,
}


def step(state: TransferState, event: TransferEvent) -> Transition:
    """The next state and its actions; an event a state does not expect changes nothing."""
    return TABLE.get(state, {}).get(event, Transition(state))


def caller_action(state: TransferState) -> TransferAction | None:
    """What the caller's side does once a transfer has ended in ``state``: the same action the
    table gives, read from the state alone, for the node holding the caller when another node
    applied the event (``hang_up_leg`` is for the node that applied it)."""
    if state in ("bridging", "accepted"):
        return "bridge"
    if state in ACTIVE or state == "caller_gone":
        return None
    return "return_to_assistant"


LEG_STATUS_EVENTS: dict[str, TransferEvent] = {
    "ringing": "ringing",
    "in-progress": "answered",
    "completed": "completed",
    "busy": "busy",
    "no-answer": "no_answer",
    "failed": "failed",
    "canceled": "failed",
}
"""The human leg's status in Twilio's words (each carrier's door translates its own:
``transfer_doors``) → the machine's event (``queued`` and ``initiated`` say nothing new).
``in-progress`` is also told by the answer webhook itself."""
