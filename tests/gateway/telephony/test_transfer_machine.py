"""The warm transfer's state machine, as a table: every state × event → next state, actions."""

from __future__ import annotations

from typing import get_args

import pytest

from gateway.telephony.transfer_machine import (
    ACTIVE,
    LEG_STATUS_EVENTS,
    TransferEvent,
    TransferState,
    Transition,
    caller_action,
    step,
)

BACK = ("return_to_assistant",)
CANCEL_BACK = ("hang_up_leg", "return_to_assistant")
HANG_UP = ("hang_up_leg",)

# (state, event) → (next state, actions); every pair not listed changes nothing.
RINGING: dict[str, tuple[str, tuple[str, ...]]] = {
    "ringing": ("ringing", ()),
    "answered": ("whispering", ()),
    "busy": ("busy", BACK),
    "no_answer": ("no_answer", BACK),
    "failed": ("failed", BACK),
    "completed": ("failed", BACK),
    "caller_gone": ("caller_gone", HANG_UP),
    "timeout": ("no_answer", CANCEL_BACK),
}
EXPECTED: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {
    **{
        (ringing, event): outcome
        for ringing in ("dialing", "ringing")
        for event, outcome in RINGING.items()
    },
    ("whispering", "accept"): ("bridging", ("bridge",)),
    ("whispering", "decline"): ("declined", BACK),
    ("whispering", "completed"): ("declined", BACK),
    ("whispering", "busy"): ("declined", BACK),
    ("whispering", "no_answer"): ("declined", BACK),
    ("whispering", "failed"): ("declined", BACK),
    ("whispering", "caller_gone"): ("caller_gone", HANG_UP),
    ("whispering", "timeout"): ("declined", CANCEL_BACK),
    ("bridging", "caller_joined"): ("accepted", ("bridge",)),
    ("bridging", "completed"): ("dropped", BACK),
    ("bridging", "failed"): ("dropped", BACK),
    ("bridging", "caller_gone"): ("caller_gone", HANG_UP),
    ("bridging", "timeout"): ("dropped", CANCEL_BACK),
    # The caller sent to the room: if the human hangs up, the caller must not stay there alone.
    ("accepted", "completed"): ("accepted", ("see_caller_out",)),
}

STATES: tuple[TransferState, ...] = get_args(TransferState)
EVENTS: tuple[TransferEvent, ...] = get_args(TransferEvent)


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("event", EVENTS)
def test_every_state_and_event(state: TransferState, event: TransferEvent) -> None:
    want_state, want_actions = EXPECTED.get((state, event), (state, ()))
    assert step(state, event) == Transition(want_state, want_actions)  # type: ignore[arg-type]


def test_final_states_ignore_everything() -> None:
    for state in set(STATES) - ACTIVE:
        for event in EVENTS:
            assert step(state, event).state == state
            if (state, event) != ("accepted", "completed"):
                assert step(state, event) == Transition(state)


def test_a_leg_ringing_again_or_a_key_before_the_answer_changes_nothing() -> None:
    assert step("ringing", "ringing") == Transition("ringing")
    assert step("ringing", "accept") == Transition("ringing")
    assert step("dialing", "decline") == Transition("dialing")


def test_the_caller_back_with_the_assistant_is_never_left_on_a_live_leg() -> None:
    """Any way back to the assistant from a leg that may still ring hangs it up first."""
    for (state, event), (after, actions) in EXPECTED.items():
        if event in ("timeout", "caller_gone"):
            assert actions[0] == "hang_up_leg", (state, event)
        if after not in ACTIVE and after not in ("accepted", "caller_gone") and after != state:
            assert actions[-1] == "return_to_assistant", (state, event)


def test_twilio_statuses_map_to_events() -> None:
    assert LEG_STATUS_EVENTS["no-answer"] == "no_answer"
    assert LEG_STATUS_EVENTS["in-progress"] == "answered"
    assert "queued" not in LEG_STATUS_EVENTS and "initiated" not in LEG_STATUS_EVENTS
    assert set(LEG_STATUS_EVENTS.values()) <= set(EVENTS)


def test_the_callers_action_read_from_the_final_state_is_the_tables() -> None:
    """The node holding the caller acts from the stored state alone (another node may have
    applied the event): that must be the action the table gives for the caller's side."""
    for (state, event), (after, actions) in EXPECTED.items():
        if after in ACTIVE or after == state:
            continue
        caller_side = [a for a in actions if a != "hang_up_leg"]
        want = caller_action(after)  # type: ignore[arg-type]
        assert caller_side == ([want] if want else []), (state, event)
