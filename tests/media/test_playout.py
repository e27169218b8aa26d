"""PlayoutTracker: exact framing, unique marks, played position and what clear() reports."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from media.g711 import ULAW_SILENCE
from media.playout import PlayoutBatch, PlayoutTracker


def _frames(batches: list[PlayoutBatch]) -> bytes:
    return b"".join(frame for batch in batches for frame in batch.frames)


@given(st.lists(st.binary(min_size=0, max_size=900), max_size=30))
def test_audio_is_never_lost_or_duplicated_across_chunks(chunks: list[bytes]) -> None:
    tracker = PlayoutTracker()
    batches = [batch for chunk in chunks for batch in tracker.push("item", chunk)]
    batches += tracker.flush()
    sent = _frames(batches)
    audio = b"".join(chunks)
    assert sent[: len(audio)] == audio
    assert (
        set(sent[len(audio) :]) <= {ULAW_SILENCE} and len(sent) - len(audio) < tracker.frame_bytes
    )
    assert all(len(frame) == tracker.frame_bytes for batch in batches for frame in batch.frames)
    names = [batch.mark.name for batch in batches]
    assert len(set(names)) == len(names)
    if batches:
        assert batches[-1].mark.audio_end_ms == len(audio) // 8


def test_a_mark_per_chunk_and_at_least_every_100ms() -> None:
    tracker = PlayoutTracker()
    batches = tracker.push("a", bytes(8 * 250))  # 250 ms in one chunk
    assert [len(batch.frames) for batch in batches] == [5, 5, 2]
    assert [batch.mark.audio_end_ms for batch in batches] == [100, 200, 240]
    assert tracker.push("a", bytes(8 * 5)) == []  # 15 ms pending: no frame yet
    assert [b.mark.audio_end_ms for b in tracker.push("a", bytes(8 * 10))] == [260]
    assert tracker.queued_ms == 260 + 5


def test_clear_reports_what_the_caller_heard_from_echoed_marks() -> None:
    tracker = PlayoutTracker()
    first = tracker.push("a", bytes(8 * 300))
    assert tracker.audible and not tracker.push("a", b"")
    assert tracker.on_mark(first[1].mark.name) == first[1].mark  # implies first[0] played too
    assert tracker.played_ms("a") == 200
    assert tracker.on_mark("unknown") is None
    assert tracker.queued_ms == 100
    assert tracker.clear() == {"a": 200}
    assert not tracker.audible and tracker.queued_ms == 0
    assert tracker.clear() == {}


def test_items_never_share_a_frame_and_padding_is_not_heard() -> None:
    tracker = PlayoutTracker()
    a = tracker.push("a", b"\x01" * 250)  # one frame and 90 bytes pending
    b = tracker.push("b", b"\x02" * 160)
    assert [batch.mark.item_id for batch in a + b] == ["a", "a", "b"]
    padded = b[0].frames[0]
    assert padded == b"\x01" * 90 + bytes([ULAW_SILENCE]) * 70
    assert b[0].mark.audio_end_ms == 250 // 8  # 31 ms of real audio, not 40
    for batch in a + b[:1]:
        tracker.on_mark(batch.mark.name)
    assert tracker.clear() == {"b": 0}


def test_clear_after_everything_played_reports_nothing() -> None:
    tracker = PlayoutTracker()
    batches = tracker.push("a", bytes(320)) + tracker.flush()
    tracker.on_mark(batches[-1].mark.name)
    assert not tracker.audible
    assert tracker.clear() == {}


def test_mark_interval_is_validated() -> None:
    with pytest.raises(ValueError):
        PlayoutTracker(mark_interval_ms=10)
