"""Twilio's outbound player as the simulator models it: marks, clear, the recording."""

from __future__ import annotations

from scripts.twilio_sim.playback import Playback


def test_a_mark_with_nothing_queued_is_due_at_once() -> None:
    assert Playback().push_mark(1.0, "m") == ["m"]


def test_marks_are_due_when_the_audio_before_them_has_played_in_order() -> None:
    player = Playback()
    player.push_audio(0.0, 8000)  # 1 s
    assert player.push_mark(0.0, "a") == []
    player.push_audio(0.1, 4000)  # queued behind: plays 1.0-1.5 s
    assert player.push_mark(0.1, "b") == []
    assert player.due_marks(0.99) == []
    assert player.due_marks(1.0) == ["a"]
    assert player.next_due_s() == 1.5
    assert player.due_marks(2.0) == ["b"]
    assert player.queued_s(2.0) == 0.0


def test_audio_after_a_pause_starts_when_it_arrives() -> None:
    player = Playback()
    player.push_audio(0.0, 800)  # plays 0-0.1 s
    player.push_audio(2.0, 800)  # arrives after a silence: plays 2.0-2.1 s
    assert player.push_mark(2.0, "m") == []
    assert player.due_marks(2.1) == ["m"]


def test_clear_returns_every_pending_mark_and_empties_the_queue() -> None:
    player = Playback()
    player.push_audio(0.0, 24000)
    player.push_mark(0.0, "a")
    player.push_audio(0.0, 8000)
    player.push_mark(0.0, "b")
    assert player.clear(0.5) == ["a", "b"]
    assert player.queued_s(0.5) == 0.0
    assert player.cleared_bytes == 28000
    assert player.push_mark(0.5, "c") == ["c"]  # nothing queued any more


def test_the_recording_is_on_the_call_timeline_and_cut_by_clear() -> None:
    player = Playback(record_max_s=10)
    player.push_audio(0.5, 800, b"\x01" * 800)
    assert player.recording() == b"\xff" * 4000 + b"\x01" * 800
    player.push_audio(1.0, 8000, b"\x02" * 8000)
    player.clear(1.25)  # only 0.25 s of the second chunk played
    assert player.recording() == b"\xff" * 4000 + b"\x01" * 800 + b"\xff" * 3200 + b"\x02" * 2000


def test_the_recording_is_bounded() -> None:
    player = Playback(record_max_s=0.1)
    player.push_audio(0.0, 8000, b"\x01" * 8000)
    assert player.recording() == b""
